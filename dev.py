#!/usr/bin/env python3
"""The project's two commands; needs nothing but python3.

    python3 dev.py demo   # create .venv, install the SDK, run examples/quickstart.py
    python3 dev.py test   # create .venv, install the SDK with test extras and the test backends, run pytest

``.ci/run`` calls ``python3 dev.py test``. Extra arguments after ``test`` go to pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "toolchain_sdk"
PHOENIX_VENV = Path(os.environ.get("TOOLCHAIN_PHOENIX_VENV", CACHE / "phoenix-venv"))
PHOENIX_SPEC = "arize-phoenix>=12"


def run(*cmd: str | os.PathLike[str], env: dict[str, str] | None = None) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, env=env)


def ensure_venv(extras: str) -> None:
    """Create .venv (once) and install the package editable with ``extras``."""
    if not (BIN / "python").exists():
        venv.create(VENV, with_pip=True)
        run(BIN / "python", "-m", "pip", "install", "-q", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    run(BIN / "python", "-m", "pip", "install", "-q", "-e", target)


def ensure_phoenix() -> Path:
    """Arize Phoenix in its own venv (it is large and pins its own deps); returns its ``phoenix`` binary."""
    phoenix = PHOENIX_VENV / "bin" / "phoenix"
    if not phoenix.exists():
        venv.create(PHOENIX_VENV, with_pip=True)
        run(PHOENIX_VENV / "bin" / "python", "-m", "pip", "install", "-q", PHOENIX_SPEC)
    return phoenix


def demo(args: list[str]) -> int:
    ensure_venv("")
    return subprocess.call([str(BIN / "python"), "examples/quickstart.py", *args], cwd=ROOT)


def test(args: list[str]) -> int:
    ensure_venv("test")
    env = dict(os.environ, TOOLCHAIN_STRICT="1", TOOLCHAIN_PHOENIX_BIN=str(ensure_phoenix()))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *args], cwd=ROOT, env=env)


def main() -> int:
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    raise SystemExit(main())
