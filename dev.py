#!/usr/bin/env python3
"""The project's two commands; needs nothing but python3.

    python3 dev.py demo   # create .venv, install the SDK, run examples/quickstart.py
    python3 dev.py test   # create .venv, install the SDK with test extras and the test backends, run pytest

``.ci/run`` calls ``python3 dev.py test``. Extra arguments after ``test`` go to pytest.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import venv
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "toolchain_sdk"
PHOENIX_VENV = Path(os.environ.get("TOOLCHAIN_PHOENIX_VENV", CACHE / "phoenix-venv"))
# 15.10.0 is the first release with phoenix/trace/gen_ai/conversion.py (GenAI -> OpenInference at
# ingestion, Phoenix PR #13267): older ones show client-instrumentation spans without kind or tokens.
PHOENIX_SPEC = "arize-phoenix>=15.10.0"
POSTGRES_URL_ENV = "TOOLCHAIN_TEST_POSTGRES_URL"  # tests marked `postgres` use the server it names
CHROMIUM_ENV = "TOOLCHAIN_CHROMIUM"  # tests marked `browser` drive the Chromium it names


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


def _postgres_bindir() -> Path | None:
    """The bin folder of the newest installed PostgreSQL (Debian layout first, then PATH)."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    if found:
        return max(found, key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def ensure_postgres() -> Path | None:
    """PostgreSQL's server binaries, installing Debian's ``postgresql`` package when missing (as root)."""
    bindir = _postgres_bindir()
    if bindir is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run("apt-get", "update", "-qq", env=env)
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql", env=env)
        bindir = _postgres_bindir()
    return bindir


def ensure_chromium() -> str | None:
    """Debian's headless Chromium for the page tests (Playwright drives it; it never downloads a browser)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run("apt-get", "update", "-qq", env=env)
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", env=env)
        found = shutil.which("chromium")
    if found is None:
        print("dev.py: no chromium and no way to install it; browser tests will skip", file=sys.stderr)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quiet(*cmd: str | os.PathLike[str]) -> None:
    """Run a server command; show its output only when it fails."""
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise subprocess.CalledProcessError(proc.returncode, cmd)


@contextlib.contextmanager
def postgres_server() -> Iterator[str | None]:
    """A throw-away PostgreSQL on a free 127.0.0.1 port for one test run; yields its URL.

    Uses ``$TOOLCHAIN_TEST_POSTGRES_URL`` as is when set. As root the cluster runs as the
    ``postgres`` OS user (PostgreSQL refuses to run as root). The cluster lives in a temp folder
    and is stopped and removed when the block ends, however it ends.
    """
    if os.environ.get(POSTGRES_URL_ENV):
        yield os.environ[POSTGRES_URL_ENV]
        return
    bindir = ensure_postgres()
    if bindir is None:
        print("dev.py: no PostgreSQL (initdb) and no way to install it; postgres tests will skip", file=sys.stderr)
        yield None
        return
    tmp = Path(tempfile.mkdtemp(prefix="toolchain-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        owner = pwd.getpwnam("postgres")  # created by the Debian package
        os.chown(tmp, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port, started = tmp / "data", _free_port(), False
    try:
        _quiet(*as_user, bindir / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {port} -k {tmp} -c fsync=off -c max_connections=200"
        _quiet(*as_user, bindir / "pg_ctl", "-D", data, "-l", tmp / "server.log", "-w", "-t", "60", "-o", options,
               "start")  # fmt: skip
        started = True
        print(f"dev.py: PostgreSQL {bindir.parent.name} on 127.0.0.1:{port}", flush=True)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True)  # fmt: skip
        shutil.rmtree(tmp, ignore_errors=True)


def demo(args: list[str]) -> int:
    ensure_venv("")
    return subprocess.call([str(BIN / "python"), "examples/quickstart.py", *args], cwd=ROOT)


def test(args: list[str]) -> int:
    ensure_venv("test")
    env = dict(os.environ, TOOLCHAIN_STRICT="1", TOOLCHAIN_PHOENIX_BIN=str(ensure_phoenix()))
    chromium = ensure_chromium()
    if chromium:
        env[CHROMIUM_ENV] = chromium
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    with postgres_server() as postgres_url:
        if postgres_url:
            env[POSTGRES_URL_ENV] = postgres_url
        return subprocess.call([str(BIN / "python"), "-m", "pytest", *args], cwd=ROOT, env=env)


def main() -> int:
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    raise SystemExit(main())
