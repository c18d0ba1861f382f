"""The users store for any name (hypothesis): a name is either refused with ConfigError or stored with only its
token's hash, and each token finds exactly its own user."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolchain_sdk.console import UserStore, hash_token
from toolchain_sdk.errors import ConfigError

NAMES = st.text(min_size=0, max_size=70) | st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(names=st.lists(NAMES, min_size=1, max_size=4, unique=True))
def test_any_name_is_refused_or_stored_as_a_hash_and_found_by_its_token_only(names: list[str]) -> None:
    """Refused names raise ConfigError and change nothing; accepted ones keep only hashes; tokens do not cross."""
    with tempfile.TemporaryDirectory() as tmp:
        store = UserStore(Path(tmp) / "users.json")
        tokens: dict[str, str] = {}
        for name in names:
            try:
                tokens[name] = store.add(name, "reviewer")
            except ConfigError as exc:
                assert "user name" in str(exc)
                assert store.get(name) is None
        text = store.path.read_text() if store.path.exists() else ""
        for name, token in tokens.items():
            assert token not in text and hash_token(token) in text
            found = store.find_token(token)
            assert found is not None and found.name == name and found.role == "reviewer"
        assert store.find_token("x" + "".join(tokens.values())) is None
        assert set(store.users()) == set(tokens)


def test_a_file_that_is_not_a_users_file_says_what_is_wrong(tmp_path: Path) -> None:
    """A users file with a plaintext token instead of a hash is refused with a message naming the field."""
    path = tmp_path / "users.json"
    path.write_text('{"version": 1, "users": {"bob": {"role": "reviewer", "token": "secret"}}}')
    with pytest.raises(ConfigError, match="token_sha256"):
        UserStore(path).users()


@pytest.mark.parametrize("name", ["alice\n", "alice\nbob", " alice", "", "-alice", "a" * 65, "al ice", "<b>"])
def test_names_that_could_forge_a_line_or_markup_are_refused(tmp_path: Path, name: str) -> None:
    """A name with a newline (even a trailing one), a space, markup, or over 64 characters is refused."""
    with pytest.raises(ConfigError, match="user name"):
        UserStore(tmp_path / "users.json").add(name, "viewer")
