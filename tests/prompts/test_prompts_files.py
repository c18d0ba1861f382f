"""Prompt files: layout, front matter, identity, resolving versions and labels, and drift against the lock."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

import toolchain_sdk as tc
from toolchain_sdk.errors import PromptDrift, PromptError
from toolchain_sdk.prompts import (
    TOOLCHAIN_PROMPT_DRIFT,
    TOOLCHAIN_PROMPTS_DIR,
    load_prompt,
    prompt,
    prompts_dir,
    resolve,
    verify,
)
from toolchain_sdk.prompts._changes import lock_versions, move_label

REFUND_V3 = """---
description: Reply to a refund request
owner: support-platform
variables: [customer, body]
model: gpt-4o-mini
---
Customer {{ customer }} asks: {{ body }}
Reply as JSON: {"refund": {"approved": true}}
"""


def write(directory: Path, relative: str, text: str) -> Path:
    path = directory / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.fixture
def pdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A prompts directory with two versions of support_refund_policy; no env settings leak in."""
    monkeypatch.delenv(TOOLCHAIN_PROMPTS_DIR, raising=False)
    monkeypatch.delenv(TOOLCHAIN_PROMPT_DRIFT, raising=False)
    directory = tmp_path / "prompts"
    write(directory, "support_refund_policy@2.md", "Customer {{ customer }}: {{ body }}\n")
    write(directory, "support_refund_policy@3.md", REFUND_V3)
    return directory


def locked(directory: Path, production: str | None = None) -> Path:
    """Lock every file in ``directory`` (and point production at a version)."""
    assert not lock_versions(directory, by="tester", reason="test").refused
    if production:
        move_label(directory, "support_refund_policy", "production", production, reason="test", by="tester")
    return directory


def test_prompts_dir_resolves_argument_then_env_then_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """prompts_dir(): the explicit argument, else TOOLCHAIN_PROMPTS_DIR, else `prompts`."""
    monkeypatch.delenv(TOOLCHAIN_PROMPTS_DIR, raising=False)
    assert prompts_dir() == Path("prompts")
    monkeypatch.setenv(TOOLCHAIN_PROMPTS_DIR, str(tmp_path / "env"))
    assert prompts_dir() == tmp_path / "env"
    assert prompts_dir(tmp_path / "arg") == tmp_path / "arg"
    assert prompts_dir(str(tmp_path / "arg")) == tmp_path / "arg"


def test_front_matter_fields_and_template(pdir: Path) -> None:
    """Front matter gives description, owner, variables and model; the template is the text after it, verbatim."""
    p = resolve("support_refund_policy@3", pdir)
    assert (p.name, p.version, p.label, p.drift) == ("support_refund_policy", "3", None, False)
    assert (p.description, p.owner, p.model) == ("Reply to a refund request", "support-platform", "gpt-4o-mini")
    assert p.variables == ("customer", "body")
    assert p.template == 'Customer {{ customer }} asks: {{ body }}\nReply as JSON: {"refund": {"approved": true}}\n'
    assert p.source == pdir / "support_refund_policy@3.md"
    assert p.render(customer="Ann", body="where is my refund?").startswith("Customer Ann asks: where is my refund?")


def test_file_sha256_is_the_hash_of_the_files_bytes(pdir: Path) -> None:
    """A file-backed prompt's sha256 is SHA-256 of the file's bytes, front matter included (sha256sum agrees)."""
    p = resolve("support_refund_policy@3", pdir)
    raw = (pdir / "support_refund_policy@3.md").read_bytes()
    assert p.sha256 == hashlib.sha256(raw).hexdigest()
    assert p.sha256 != hashlib.sha256(p.template.encode()).hexdigest()


def test_txt_files_subfolders_and_a_byte_order_mark(pdir: Path) -> None:
    """`.txt` works like `.md`; names may hold `/` (sub-folders), `.`, `_`, `-`; a UTF-8 BOM is not template text."""
    write(pdir, "support/refund.policy-x_y@v3.txt", "\ufeffHi {{ name }}")
    p = resolve("support/refund.policy-x_y@v3", pdir)
    assert (p.name, p.version, p.render(name="Bo")) == ("support/refund.policy-x_y", "v3", "Hi Bo")
    write(pdir, "dated@2026-11-30.md", "dated")
    assert resolve("dated@2026-11-30", pdir).version == "2026-11-30"


def test_one_file_per_version(pdir: Path) -> None:
    """Both a `.md` and a `.txt` for the same name@version is an error naming both."""
    write(pdir, "support_refund_policy@2.txt", "other")
    with pytest.raises(PromptError, match=r"both .*@2\.md and .*@2\.txt"):
        resolve("support_refund_policy@2", pdir)


def test_front_matter_variables_must_match_the_placeholders(pdir: Path) -> None:
    """Declared variables that differ from the placeholders fail when the file loads, naming both sides."""
    write(pdir, "mismatch@1.md", "---\nvariables: [customer, order_id]\n---\nHi {{ customer }} {{ body }}\n")
    with pytest.raises(tc.ConfigError, match=r"mismatch@1\.md.*not in the template: order_id.*not declared: body"):
        resolve("mismatch@1", pdir)
    write(pdir, "mapping@1.md", "---\nvariables:\n  customer: who asks\n---\nHi {{ customer }}\n")
    assert resolve("mapping@1", pdir).variables == ("customer",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\ndescripton: typo\n---\nx", "unknown front matter field"),
        ("---\nowner: [a, b]\n---\nx", "'owner' must be text"),
        ("---\n: : bad\n  - yaml\n---\nx", "not valid YAML"),
        ("---\n- a list\n---\nx", "must be a mapping"),
        ("---\ndescription: never closed\nx", "no closing '---'"),
        ("---\nvariables: customer\n---\n{{ customer }}", "must be a list of names"),
        ("x {{ a-b }}", "does not open a placeholder"),
    ],
)
def test_bad_files_are_prompt_errors(pdir: Path, text: str, message: str) -> None:
    """Invalid front matter or a bad template is a PromptError naming the file."""
    write(pdir, "bad@1.md", text)
    with pytest.raises(PromptError, match=message) as err:
        resolve("bad@1", pdir)
    assert "bad@1.md" in str(err.value)


def test_empty_front_matter_and_a_template_without_front_matter(pdir: Path) -> None:
    """`---`/`---` with nothing between is allowed; a file not starting with `---` is all template."""
    write(pdir, "empty@1.md", "---\n---\nbody")
    write(pdir, "rule@1.md", "text\n---\nmore")
    assert resolve("empty@1", pdir).template == "body"
    assert resolve("rule@1", pdir).template == "text\n---\nmore"


@pytest.mark.parametrize("ref", ["support_refund_policy@latest", "support_refund_policy@LATEST"])
def test_latest_is_refused(pdir: Path, ref: str) -> None:
    """`name@latest` is refused even when a file or label is named so: pin a version or use a label."""
    write(pdir, "support_refund_policy@latest.md", "sneaky")
    with pytest.raises(PromptError, match="'latest' is not a version"):
        resolve(ref, pdir)


def test_unknown_version_lists_versions_and_labels(pdir: Path) -> None:
    """An unknown version or label is a ConfigError listing the versions and labels that exist."""
    locked(pdir, production="3")
    with pytest.raises(tc.ConfigError, match=r"no version or label '9'.*versions: 2, 3; labels: production -> 3"):
        resolve("support_refund_policy@9", pdir)
    with pytest.raises(tc.ConfigError, match=r"no version or label 'staging'.*labels: production -> 3"):
        resolve("support_refund_policy@staging", pdir)


def test_unknown_name_lists_the_prompts_and_a_close_match(pdir: Path) -> None:
    """An unknown name lists the prompts there and suggests a close one."""
    with pytest.raises(tc.ConfigError, match=r"support_refund_polcy.*support_refund_policy.*did you mean"):
        resolve("support_refund_polcy@3", pdir)


@pytest.mark.parametrize("ref", ["no-version", "a@b@c", "@3", "name@", "a b@1"])
def test_malformed_references(pdir: Path, ref: str) -> None:
    """A reference that is not name@version is a PromptError that shows the expected form or what is wrong."""
    with pytest.raises(PromptError, match=r"name@version|not valid"):
        resolve(ref, pdir)


def test_labels_resolve_through_the_lock(pdir: Path) -> None:
    """name@production resolves to the version the lock's label names, and the result carries the label."""
    locked(pdir, production="3")
    p = resolve("support_refund_policy@production", pdir)
    assert (p.version, p.label, p.ref) == ("3", "production", "support_refund_policy@3")
    assert p.sha256 == resolve("support_refund_policy@3", pdir).sha256
    move_label(pdir, "support_refund_policy", "production", "2", reason="rollback", by="tester")
    assert resolve("support_refund_policy@production", pdir).version == "2"


def test_a_label_without_a_lock_file_is_unknown(pdir: Path) -> None:
    """Labels live in the lock: with no lock file, name@production is an unknown version or label."""
    with pytest.raises(tc.ConfigError, match="labels: none"):
        resolve("support_refund_policy@production", pdir)


def test_a_label_whose_version_file_is_gone(pdir: Path) -> None:
    """A label pointing at a version whose file was deleted is a ConfigError saying how to fix it."""
    locked(pdir, production="2")
    (pdir / "support_refund_policy@2.md").unlink()
    with pytest.raises(tc.ConfigError, match="points at version 2, which has no file"):
        resolve("support_refund_policy@production", pdir)


def edit_in_place(directory: Path) -> None:
    path = directory / "support_refund_policy@3.md"
    path.write_bytes(path.read_bytes() + b"Be generous.\n")


@pytest.mark.parametrize("ref", ["support_refund_policy@3", "support_refund_policy@production"])
def test_drift_raises_by_default(pdir: Path, ref: str) -> None:
    """A locked file edited in place raises PromptDrift (a ConfigError), by version and through a label."""
    locked(pdir, production="3")
    edit_in_place(pdir)
    with pytest.raises(PromptDrift, match="edited after it was locked") as err:
        resolve(ref, pdir)
    assert err.value.ref == "support_refund_policy@3"
    assert err.value.locked_sha256 != err.value.actual_sha256
    assert err.value.actual_sha256 == hashlib.sha256((pdir / "support_refund_policy@3.md").read_bytes()).hexdigest()
    assert isinstance(err.value, tc.ConfigError)


def test_drift_warn_from_the_environment(
    pdir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """TOOLCHAIN_PROMPT_DRIFT=warn logs one warning on the toolchain_sdk logger and marks the prompt drift=True."""
    locked(pdir, production="3")
    edit_in_place(pdir)
    monkeypatch.setenv(TOOLCHAIN_PROMPT_DRIFT, "warn")
    with caplog.at_level(logging.WARNING, logger="toolchain_sdk"):
        p = resolve("support_refund_policy@production", pdir)
    assert (p.drift, p.label, p.version) == (True, "production", "3")
    [record] = [r for r in caplog.records if r.name == "toolchain_sdk"]
    assert record.levelno == logging.WARNING and "edited after it was locked" in record.getMessage()
    with pytest.raises(PromptDrift):
        resolve("support_refund_policy@3", pdir, drift="raise")


def test_drift_argument_overrides_the_environment(pdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """drift='warn' as an argument downgrades; a bad TOOLCHAIN_PROMPT_DRIFT value is a PromptError."""
    locked(pdir)
    edit_in_place(pdir)
    assert resolve("support_refund_policy@3", pdir, drift="warn").drift is True
    monkeypatch.setenv(TOOLCHAIN_PROMPT_DRIFT, "ignore")
    with pytest.raises(PromptError, match="TOOLCHAIN_PROMPT_DRIFT='ignore' is not one of raise, warn"):
        resolve("support_refund_policy@2", pdir)


def test_no_lock_file_no_drift_check(pdir: Path) -> None:
    """Without a lock file nothing is checked; a version the lock does not record yet is not drift either."""
    edit_in_place(pdir)
    assert resolve("support_refund_policy@3", pdir).drift is False
    locked(pdir)
    write(pdir, "support_refund_policy@4.md", "new {{ x }}")
    assert resolve("support_refund_policy@4", pdir).drift is False


def test_prompt_and_load_prompt_resolve_like_resolve(pdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tc.prompt's function and load_prompt read TOOLCHAIN_PROMPTS_DIR and resolve labels and drift the same way."""
    locked(pdir, production="2")
    monkeypatch.setenv(TOOLCHAIN_PROMPTS_DIR, str(pdir))
    assert prompt("support_refund_policy@production") == resolve("support_refund_policy@production", pdir)
    assert load_prompt("support_refund_policy@production") == resolve("support_refund_policy@production", pdir)


def test_governed_call_takes_a_label_and_refuses_drift_at_decoration(
    pdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prompt='name@label' works on a surface; a drifted file is a ConfigError at decoration time."""
    locked(pdir, production="3")
    monkeypatch.setenv(TOOLCHAIN_PROMPTS_DIR, str(pdir))

    @tc.governed_call("prompts.label", prompt="support_refund_policy@production")
    def reply() -> str:
        call = tc.current_call()
        assert call is not None and call.prompt is not None
        return f"{call.prompt.version}/{call.prompt.label}"

    assert reply() == "3/production"
    edit_in_place(pdir)
    with pytest.raises(tc.ConfigError, match="edited after it was locked"):
        tc.governed_call("prompts.drifted", prompt="support_refund_policy@3")


def test_verify_from_python(pdir: Path) -> None:
    """verify() returns no problems for a locked directory and one per problem otherwise."""
    locked(pdir)
    assert verify(pdir) == []
    edit_in_place(pdir)
    [problem] = verify(pdir)
    assert (problem.file, problem.problem) == (str(pdir / "support_refund_policy@3.md"), "modified in place")
