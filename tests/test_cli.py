"""The `toolchain` command in real subprocesses: `toolchain hash` matches what spans carry."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from toolchain_sdk.hashing import Hasher


def toolchain(
    *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    import os

    full_env = {k: v for k, v in os.environ.items() if k != "TOOLCHAIN_HASH_KEY"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "toolchain_sdk", *args], capture_output=True, env=full_env, input=stdin, timeout=60
    )


def test_hash_text_matches_hashlib() -> None:
    """`toolchain hash TEXT` prints SHA-256 of the UTF-8 text."""
    proc = toolchain("hash", "Grüße, world")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().strip() == hashlib.sha256("Grüße, world".encode()).hexdigest()


def test_hash_file_and_stdin(tmp_path: Path) -> None:
    """`--file F` hashes the file's bytes; no argument hashes stdin."""
    data = b"\x00\xffbinary output\n"
    f = tmp_path / "out.bin"
    f.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert toolchain("hash", "--file", str(f)).stdout.decode().strip() == expected
    assert toolchain("hash", stdin=data).stdout.decode().strip() == expected


def test_hash_json_is_canonical() -> None:
    """`--json` hashes the canonical form whatever the key order and spacing given."""
    proc = toolchain("hash", "--json", '{ "b": [1, 2], "a": "x" }')
    assert proc.stdout.decode().strip() == hashlib.sha256(b'{"a":"x","b":[1,2]}').hexdigest()


def test_hash_with_key_is_hmac() -> None:
    """With TOOLCHAIN_HASH_KEY the command prints the HMAC and, verbose, the key id (never the key)."""
    proc = toolchain("hash", "-v", "card 4111", env={"TOOLCHAIN_HASH_KEY": "k3y"})
    assert proc.stdout.decode().strip() == hmac.new(b"k3y", b"card 4111", hashlib.sha256).hexdigest()
    err = proc.stderr.decode()
    assert "alg=hmac-sha256" in err and "key_id=" in err and "k3y" not in err


@settings(max_examples=5, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30))
def test_cli_agrees_with_library(text: str) -> None:
    """For arbitrary text the CLI prints exactly the hash the SDK puts on spans."""
    proc = toolchain("hash", "--json", json.dumps(text))
    assert proc.stdout.decode().strip() == Hasher().hash_value(text)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A missing file exits 2 with an error message, not a traceback."""
    proc = toolchain("hash", "--file", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert b"toolchain: error:" in proc.stderr and b"Traceback" not in proc.stderr
