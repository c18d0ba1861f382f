"""The pytest plugin (``pytest11`` entry point ``toolchain-evals``): ``pytest evals/`` runs eval files.

Each eval file is collected as a module and each case and prompt version as one test, whose failure
text is the assertions' reasons. A YAML (or TOML) file is an eval file by its content — top-level
``target`` and ``cases`` — wherever it lives; any other file is never collected. Loading the
plugin imports only the standard library and pytest: the evals machinery is imported when a file
turns out to be an eval file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from toolchain_sdk.evals._model import Case
    from toolchain_sdk.evals._runner import Plan

__all__ = [
    "EvalCaseFailed",
    "EvalFileBroken",
    "EvalItem",
    "EvalModule",
    "pytest_addoption",
    "pytest_collect_file",
]

_SUFFIXES = (".yaml", ".yml", ".toml")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--eval-approve-as NAME``: approve the approval requests of eval cases as NAME (else they are skipped)."""
    group = parser.getgroup("toolchain-evals")
    group.addoption(
        "--eval-approve-as",
        metavar="NAME",
        default=None,
        help="toolchain evals: approve every approval request as NAME (without it, surfaces needing approval skip)",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> EvalModule | None:
    """Collect ``file_path`` when it is an eval file by content (top-level ``target`` and ``cases``)."""
    if file_path.suffix not in _SUFFIXES:
        return None
    from toolchain_sdk.evals._model import is_eval_file

    if not is_eval_file(file_path):
        return None
    return EvalModule.from_parent(parent, path=file_path)


class EvalCaseFailed(Exception):
    """An eval case's output failed its assertions (the message lists why)."""


class EvalFileBroken(Exception):
    """An eval file cannot run: its target, a ``python:`` check, a prompt version or an input is wrong."""


class EvalModule(pytest.File):
    """One eval file: its cases (each with each prompt version) are its tests."""

    _plan: Plan | None = None
    _broken: str | None = None

    def plan(self) -> Plan:
        """The file loaded and its target imported (once per file).

        Raises:
            EvalFileBroken: ``prepare`` found a configuration error (every case of the file reports it).
        """
        if self._broken is not None:
            raise EvalFileBroken(self._broken)
        if self._plan is None:
            from toolchain_sdk.errors import ConfigError
            from toolchain_sdk.evals._model import load_eval_file
            from toolchain_sdk.evals._runner import prepare

            for where in (str(self.config.rootpath), os.getcwd()):
                if where not in sys.path:
                    sys.path.insert(0, where)
            try:
                self._plan = prepare(load_eval_file(self.path))
            except ConfigError as exc:
                self._broken = str(exc)
                raise EvalFileBroken(self._broken) from None
        return self._plan

    def collect(self) -> Iterator[EvalItem]:
        """One test per case and prompt version, named ``case`` or ``case[name@3]``."""
        from toolchain_sdk.errors import ConfigError
        from toolchain_sdk.evals._model import load_eval_file

        try:
            file = load_eval_file(self.path)
        except ConfigError as exc:
            raise self.CollectError(str(exc)) from None
        for case, prompt in file.runs():
            name = f"{case.id}[{prompt}]" if prompt else case.id
            yield EvalItem.from_parent(self, name=name, case=case, prompt=prompt)


class EvalItem(pytest.Item):
    """One case run once (with one prompt version)."""

    def __init__(self, *, case: Case, prompt: str | None, **kwargs: Any) -> None:
        """One case with one prompt version (``None``: the surface's own)."""
        super().__init__(**kwargs)
        self.case = case
        self.prompt = prompt

    def runtest(self) -> None:
        """Run the case through the governed function; skip when it needs an approver nobody named."""
        from toolchain_sdk.evals._runner import run_case

        module = self.parent
        assert isinstance(module, EvalModule)
        result = run_case(module.plan(), self.case, self.prompt, self.config.getoption("eval_approve_as"))
        if result.status == "skipped":
            pytest.skip("; ".join(result.reasons))
        if result.status == "fail":
            raise EvalCaseFailed("\n".join(f"- {r}" for r in result.reasons))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The failed assertions' reasons, one a line (no traceback of the runner)."""
        if isinstance(excinfo.value, EvalCaseFailed):
            return f"eval case {self.name} failed:\n{excinfo.value}"
        if isinstance(excinfo.value, EvalFileBroken):
            return f"eval file cannot run (configuration error): {excinfo.value}"
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where pytest says the test lives: the eval file."""
        return self.path, None, f"eval {self.name}"
