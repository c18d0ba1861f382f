"""Prompt files through ``@tc.governed_call`` and ``tc.governed``, end to end: versions, labels, drift, the span.

The lock and the labels are written by the real CLI (``python -m toolchain_sdk prompts ...``) in
subprocesses; the prompts directory reaches the SDK through ``TOOLCHAIN_PROMPTS_DIR`` in-process
(``configure(prompts_dir=...)`` would replace the suite's span exporter) and through both
``configure(prompts_dir=...)`` and the variable in fresh processes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import toolchain_sdk as tc
from tests._subproc import run_cli, run_python
from toolchain_sdk import prompts, semconv
from toolchain_sdk.testing import SpanRecorder

NAME = "support_refund_policy"
V2 = "Customer {{ customer }}: {{ body }}\n"
V3 = (
    "---\ndescription: Reply to a refund request under the 2026 policy\nowner: support-platform\n"
    "variables: [customer, body]\n---\nCustomer {{ customer }} asks: {{ body }}\n\n"
    'Reply as JSON: {"refund": {"approved": true, "reason": "..."}}\n'
)
V4 = "Customer {{ customer }} asks: {{ body }}\nBe brief.\n"


@pytest.fixture
def prompt_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A prompts directory with versions 2, 3 and 4 of support_refund_policy and a .txt prompt, made the SDK's."""
    directory = tmp_path / "prompts"
    (directory / "support").mkdir(parents=True)
    (directory / f"{NAME}@2.md").write_text(V2, encoding="utf-8")
    (directory / f"{NAME}@3.md").write_text(V3, encoding="utf-8")
    (directory / f"{NAME}@4.md").write_text(V4, encoding="utf-8")
    (directory / "support" / "greet@v1.txt").write_text("Hi {{ name }}", encoding="utf-8")
    monkeypatch.setenv(prompts.TOOLCHAIN_PROMPTS_DIR, str(directory))
    monkeypatch.delenv(prompts.TOOLCHAIN_PROMPT_DRIFT, raising=False)
    return directory


def toolchain(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``toolchain prompts ARGS --dir DIRECTORY`` in a fresh process; fail the test if it fails."""
    proc = run_cli("prompts", *args, "--dir", str(directory), cwd=directory.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def lock(directory: Path, production: str | None = "3") -> None:
    """Lock every version (the real CLI), and point ``production`` at a version when given."""
    toolchain(directory, "lock", "--reason", "reviewed", "--by", "ann")
    if production is not None:
        toolchain(directory, "label", NAME, "production", production, "--reason", "release", "--by", "ann")


def sha256sum(path: Path) -> str:
    """What ``sha256sum FILE`` prints (the coreutils binary when there is one)."""
    exe = shutil.which("sha256sum")
    if exe is None:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return subprocess.run([exe, str(path)], capture_output=True, text=True, check=True).stdout.split()[0]


def attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


@pytest.fixture
def surface() -> str:
    """A surface name no other test uses: compiled ``governed()`` blocks are cached per process by declaration."""
    return f"support.refund_reply_{uuid.uuid4().hex[:12]}"


def decorated(surface: str, prompt: object) -> Callable[[], str]:
    """A surface with ``prompt=`` whose body renders the prompt it was given."""

    @tc.governed_call(surface, prompt=prompt)  # type: ignore[arg-type]
    def reply(*, call: tc.GovernedCall = tc.INJECTED) -> str:
        assert call.prompt is not None
        return call.prompt.render(customer="Ana", body="refund order 77")

    return reply


def block(surface: str, prompt: object) -> Callable[[], str]:
    """The same as a ``tc.governed(...)`` block."""

    def reply() -> str:
        with tc.governed(surface, prompt=prompt) as call:  # type: ignore[arg-type]
            assert call.prompt is not None
            text = call.prompt.render(customer="Ana", body="refund order 77")
            call.record_output(text)
            return text

    return reply


HOW = {
    "decorator": lambda surface, ref: decorated(surface, ref),
    "tc.prompt": lambda surface, ref: decorated(surface, tc.prompt(ref)),
    "block": lambda surface, ref: block(surface, ref),
}


# --- versions ------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", sorted(HOW))
def test_a_version_reaches_the_span_with_the_sha256_of_its_file_bytes(
    how: str, prompt_dir: Path, spans: SpanRecorder, surface: str
) -> None:
    """prompt='support_refund_policy@3': the body renders it; the span has name, version and sha256sum of the file."""
    reply = HOW[how](surface, f"{NAME}@3")
    assert reply().startswith("Customer Ana asks: refund order 77\n")
    a = attrs(spans.one(surface))
    assert (a[semconv.GEN_AI_PROMPT_NAME], a[semconv.GEN_AI_PROMPT_VERSION]) == (NAME, "3")
    assert a[semconv.PROMPT_SHA256] == sha256sum(prompt_dir / f"{NAME}@3.md")  # front matter included
    assert semconv.PROMPT_LABEL not in a
    assert semconv.PROMPT_DRIFT not in a


def test_a_txt_prompt_in_a_sub_folder_works_the_same(prompt_dir: Path, spans: SpanRecorder) -> None:
    """support/greet@v1 is a .txt file in a sub-folder: resolved, rendered, hashed by its bytes."""

    @tc.governed_call("support.greet", prompt="support/greet@v1")
    def greet(*, call: tc.GovernedCall = tc.INJECTED) -> str:
        assert call.prompt is not None
        return call.prompt.render(name="Ana")

    assert greet() == "Hi Ana"
    a = attrs(spans.one("support.greet"))
    assert (a[semconv.GEN_AI_PROMPT_NAME], a[semconv.GEN_AI_PROMPT_VERSION]) == ("support/greet", "v1")
    assert a[semconv.PROMPT_SHA256] == sha256sum(prompt_dir / "support" / "greet@v1.txt")


@pytest.mark.parametrize("as_block", [False, True])
def test_an_unknown_version_is_a_config_error_at_decoration_listing_versions_and_labels(
    as_block: bool, prompt_dir: Path, surface: str
) -> None:
    """support_refund_policy@9: a ConfigError before any function is given, naming the versions and labels there are."""
    lock(prompt_dir)
    with pytest.raises(tc.ConfigError) as raised:
        if as_block:
            tc.governed(surface, prompt=f"{NAME}@9")
        else:
            tc.governed_call(surface, prompt=f"{NAME}@9")
    message = str(raised.value)
    assert isinstance(raised.value, tc.PromptError)
    assert f"unknown prompt {NAME}@9" in message
    assert "versions: 2, 3, 4" in message
    assert "labels: production -> 3" in message


def test_an_unknown_name_is_a_config_error_listing_the_prompts_there_are(prompt_dir: Path, surface: str) -> None:
    """A misspelt name: the ConfigError lists the prompt names and suggests the close one."""
    with pytest.raises(tc.ConfigError) as raised:
        tc.governed_call(surface, prompt="support_refund_polcy@3")
    message = str(raised.value)
    assert f"did you mean {NAME}" in message
    assert "support/greet" in message


# --- labels --------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", sorted(HOW))
def test_a_label_resolves_through_the_lock_and_the_span_says_version_and_label(
    how: str, prompt_dir: Path, spans: SpanRecorder, surface: str
) -> None:
    """prompt='support_refund_policy@production' (production -> 3): version 3, label production, the bytes of @3."""
    lock(prompt_dir, production="3")
    reply = HOW[how](surface, f"{NAME}@production")
    assert reply().startswith("Customer Ana asks:")
    a = attrs(spans.one(surface))
    assert a[semconv.GEN_AI_PROMPT_VERSION] == "3"
    assert a[semconv.PROMPT_LABEL] == "production"
    assert a[semconv.PROMPT_SHA256] == sha256sum(prompt_dir / f"{NAME}@3.md")


def test_a_label_is_resolved_when_decorated_so_a_later_move_needs_a_new_process(
    prompt_dir: Path, spans: SpanRecorder, surface: str
) -> None:
    """A label moved after decoration leaves the decorated surface on 3; one decorated after the move gets 4."""
    lock(prompt_dir, production="3")
    before = decorated(surface, f"{NAME}@production")
    toolchain(prompt_dir, "label", NAME, "production", "4", "--reason", "v4 reviewed", "--by", "bo")
    after = decorated("support.refund_reply_v2", f"{NAME}@production")
    before()
    after()
    assert attrs(spans.one(surface))[semconv.GEN_AI_PROMPT_VERSION] == "3"
    assert attrs(spans.one("support.refund_reply_v2"))[semconv.GEN_AI_PROMPT_VERSION] == "4"


_FRESH = """
import json, os, sys
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import toolchain_sdk as tc

exporter = InMemorySpanExporter()
tc.configure(span_exporter=exporter, batch=False{prompts_dir})

@tc.governed_call("support.refund_reply", prompt="support_refund_policy@production")
def reply(*, call):
    return call.prompt.render(customer="Ana", body="refund")

reply()
print(json.dumps(dict(exporter.get_finished_spans()[0].attributes)))
"""


@pytest.mark.parametrize("how", ["configure", "env"])
def test_a_label_rollback_is_seen_on_the_span_of_a_fresh_process(how: str, prompt_dir: Path) -> None:
    """`toolchain prompts label ... production 4`, then back to 3: each fresh process's span names that version."""
    lock(prompt_dir, production="3")
    code = _FRESH.format(prompts_dir=f", prompts_dir={str(prompt_dir)!r}" if how == "configure" else "")
    env = {prompts.TOOLCHAIN_PROMPTS_DIR: str(prompt_dir)} if how == "env" else {}
    cwd = prompt_dir.parent.parent  # not the project folder: ./prompts is not the directory in force

    def span_in_a_fresh_process() -> dict[str, Any]:
        proc = run_python(code, env=env, cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        return dict(json.loads(proc.stdout))

    seen = []
    for version in (None, "4", "3"):
        if version is not None:
            toolchain(prompt_dir, "label", NAME, "production", version, "--reason", f"to {version}", "--by", "bo")
        a = span_in_a_fresh_process()
        assert a[semconv.PROMPT_LABEL] == "production"
        assert a[semconv.PROMPT_SHA256] == sha256sum(prompt_dir / f"{NAME}@{a[semconv.GEN_AI_PROMPT_VERSION]}.md")
        seen.append(a[semconv.GEN_AI_PROMPT_VERSION])
    assert seen == ["3", "4", "3"]
    history = toolchain(prompt_dir, "log", NAME).stdout
    assert "label support_refund_policy@production 3 -> 4" in history
    assert "label support_refund_policy@production 4 -> 3" in history


# --- drift ---------------------------------------------------------------------------------------
def edit_in_place(prompt_dir: Path, version: str = "3") -> Path:
    """Change a locked version's file after it was locked (what a reviewer must never see unreported)."""
    path = prompt_dir / f"{NAME}@{version}.md"
    path.write_text(path.read_text(encoding="utf-8").replace("asks:", "wants:"), encoding="utf-8")
    return path


@pytest.mark.parametrize("ref", ["3", "production"])
@pytest.mark.parametrize("as_block", [False, True])
def test_a_locked_file_edited_in_place_is_prompt_drift_at_decoration(
    ref: str, as_block: bool, prompt_dir: Path, spans: SpanRecorder, surface: str
) -> None:
    """The lock says one sha256, the file has another: tc.PromptDrift at decoration, by version or through the label."""
    lock(prompt_dir, production="3")
    path = edit_in_place(prompt_dir)
    with pytest.raises(tc.PromptDrift) as raised:
        if as_block:
            tc.governed(surface, prompt=f"{NAME}@{ref}")
        else:
            tc.governed_call(surface, prompt=f"{NAME}@{ref}")
    drift = raised.value
    assert (drift.ref, drift.file) == (f"{NAME}@3", str(path))
    assert drift.actual_sha256 == sha256sum(path)
    assert drift.locked_sha256 != drift.actual_sha256
    if ref == "production":
        assert "through label production" in str(drift)
    assert not spans.spans()


@pytest.mark.parametrize("ref", ["3", "production"])
def test_drift_warn_runs_on_with_one_warning_and_the_drift_attribute(
    ref: str,
    prompt_dir: Path,
    spans: SpanRecorder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    surface: str,
) -> None:
    """TOOLCHAIN_PROMPT_DRIFT=warn: one warning at decoration, the calls run, spans say toolchain.prompt.drift=true."""
    lock(prompt_dir, production="3")
    path = edit_in_place(prompt_dir)
    monkeypatch.setenv(prompts.TOOLCHAIN_PROMPT_DRIFT, "warn")
    with caplog.at_level(logging.WARNING, logger="toolchain_sdk"):
        reply = decorated(surface, f"{NAME}@{ref}")
        assert reply().startswith("Customer Ana wants:")
        reply()
    warnings = [r.getMessage() for r in caplog.records if "edited after it was locked" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert f"{NAME}@3" in warnings[0]
    for span in spans.spans(surface):
        a = attrs(span)
        assert a[semconv.PROMPT_DRIFT] is True
        assert a[semconv.PROMPT_SHA256] == sha256sum(path)  # the bytes actually used, not the locked ones
        assert a[semconv.GEN_AI_PROMPT_VERSION] == "3"
    assert len(spans.spans(surface)) == 2


def test_drift_warn_on_a_block_warns_once_for_many_entries(
    prompt_dir: Path,
    spans: SpanRecorder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    surface: str,
) -> None:
    """A block is compiled once: entering it three times with a drifted prompt warns once; every span says drift."""
    lock(prompt_dir, production="3")
    edit_in_place(prompt_dir)
    monkeypatch.setenv(prompts.TOOLCHAIN_PROMPT_DRIFT, "warn")
    reply = block(surface, f"{NAME}@production")
    with caplog.at_level(logging.WARNING, logger="toolchain_sdk"):
        for _ in range(3):
            reply()
    warnings = [r for r in caplog.records if "edited after it was locked" in r.getMessage()]
    assert len(warnings) == 1
    assert [attrs(s)[semconv.PROMPT_DRIFT] for s in spans.spans(surface)] == [True, True, True]


def test_without_a_lock_file_an_edited_file_is_not_drift(prompt_dir: Path, spans: SpanRecorder, surface: str) -> None:
    """No prompts.lock: nothing to drift from; the span has no drift attribute and the current bytes' hash."""
    path = edit_in_place(prompt_dir)
    decorated(surface, f"{NAME}@3")()
    a = attrs(spans.one(surface))
    assert semconv.PROMPT_DRIFT not in a
    assert a[semconv.PROMPT_SHA256] == sha256sum(path)
