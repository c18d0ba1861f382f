"""A small project on disk for the eval tests: a module of governed surfaces, prompts, a config and eval files."""

from __future__ import annotations

import itertools
import json
import textwrap
from pathlib import Path

import pytest

_COUNTER = itertools.count()

BOT = '''
"""Governed surfaces for the eval tests (deterministic: no model is called)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import toolchain_sdk as tc


@dataclass
class Ticket:
    id: str
    body: str


def _fallback(*args: object, **kwargs: object) -> str:
    return "fallback"


@tc.governed_call("{p}.reply", owner="team", prompt="greet@production"{route})
def reply(ticket: Ticket, *, call: tc.GovernedCall = tc.INJECTED) -> str:
    assert call.prompt is not None
    return f"{{call.prompt.render(body=ticket.body)}} (v{{call.prompt.version}} by {{call.model}})"


@tc.governed_call("{p}.status", owner="team")
async def status(order: int) -> dict[str, object]:
    await asyncio.sleep(0)
    return {{"status": "shipped" if order % 2 else "pending", "order": order}}


@tc.governed_call("{p}.stream", owner="team")
def stream(text: str):
    for word in text.split():
        yield word + " "


@tc.governed_call("{p}.astream", owner="team")
async def astream(text: str):
    for word in text.split():
        await asyncio.sleep(0)
        yield word.upper() + " "


@tc.governed_call("{p}.returned", owner="team")
def returned(text: str):
    return iter([word + " " for word in text.split()])


async def _upper_words(text: str):
    for word in text.split():
        yield word.upper() + " "


@tc.governed_call("{p}.areturned", owner="team")
async def areturned(text: str):
    return _upper_words(text)


@tc.governed_call("{p}.boom", owner="team")
def boom(text: str) -> str:
    raise RuntimeError("model exploded")


@tc.governed_call(
    "{p}.refund", owner="team", risk="high", fallback=_fallback,
    approval=tc.approval.require(approver=tc.approval.deny_all()),
)
def refund(amount: int) -> str:
    return f"refunded {{amount}}"


def _large(arguments):
    return arguments["amount"] > 100


@tc.governed_call(
    "{p}.payout", owner="team", risk="high", fallback=_fallback,
    approval=tc.approval.require(policy=_large, approver=tc.approval.deny_all()),
)
def payout(amount: int) -> str:
    return f"paid {{amount}}"


@tc.governed_call("{p}.killable", owner="team", fallback=_fallback)
def killable(text: str) -> str:
    return f"the model says {{text}}"


def plain(text: str) -> str:
    return text
'''

CHECKS = '''
"""Named checks for python: assertions."""


def polite(output, case):
    return "please" in output.lower()


def half(output, case):
    return 0.5


def low(output, case):
    return 0.2


def explained(output, case):
    return (False, f"case {case.id} wanted more detail")


def broken(output, case):
    raise ValueError("checker bug")


def weird(output, case):
    return "yes"
'''

CONFIG = """
[routes.replies]
[[routes.replies.targets]]
provider = "openai"
model = "gpt-4o-mini"
"""


class Project:
    """A throw-away project: ``module`` is a unique module name (the registry is per test, modules are not).

    ``routed``: the ``reply`` surface takes its model from ``[routes.replies]`` of ``toolchain.toml``
    (for subprocesses run in ``root``: the configuration in force is read once per process).
    """

    def __init__(self, root: Path, *, routed: bool = False) -> None:
        """Write the module, the checks, the configuration, the prompts (greet@1, greet@2; production -> 1)."""
        self.root = root
        self.module = f"evbot{next(_COUNTER)}_{abs(hash(root)) % 10**6}"
        self.checks = f"{self.module}_checks"
        self.prefix = self.module
        (root / f"{self.module}.py").write_text(
            textwrap.dedent(BOT).format(p=self.prefix, route=', route="replies"' if routed else ""), encoding="utf-8"
        )
        (root / f"{self.checks}.py").write_text(textwrap.dedent(CHECKS), encoding="utf-8")
        (root / "toolchain.toml").write_text(CONFIG, encoding="utf-8")
        prompts = root / "prompts"
        prompts.mkdir()
        self.write_prompt("greet", "1", "Hello! {{ body }}")
        self.write_prompt("greet", "2", "Please: {{ body }}")
        self.label("greet", "production", "1")
        (root / "evals").mkdir()

    def write_prompt(self, name: str, version: str, text: str) -> Path:
        """Write ``prompts/<name>@<version>.md``."""
        path = self.root / "prompts" / f"{name}@{version}.md"
        path.write_text(text + "\n", encoding="utf-8")
        return path

    def label(self, name: str, label: str, version: str) -> None:
        """Write a ``prompts.lock`` with one label (no locked hashes, so nothing is checked for drift)."""
        lock = {"format": 1, "labels": {name: {label: version}}, "prompts": {}}
        (self.root / "prompts" / "prompts.lock").write_text(json.dumps(lock, indent=2) + "\n", encoding="utf-8")

    def target(self, function: str) -> str:
        """``module:function`` of one of the project's functions."""
        return f"{self.module}:{function}"

    def surface(self, function: str) -> str:
        """The surface name of one of the project's functions."""
        return f"{self.prefix}.{function}"

    def eval_file(self, name: str, body: str, *, function: str = "reply") -> Path:
        """Write ``evals/<name>.yaml`` whose ``target`` is this project's ``function``."""
        path = self.root / "evals" / f"{name}.yaml"
        path.write_text(f"target: {self.target(function)}\n" + textwrap.dedent(body), encoding="utf-8")
        return path


@pytest.fixture(name="project")
def project_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project in ``tmp_path``, the current directory and first on the import path for the test."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("TOOLCHAIN_PROMPTS_DIR", raising=False)
    return Project(tmp_path)
