"""The public surface: sorted, complete __all__, py.typed, no I/O or env reads at import."""

from __future__ import annotations

import importlib
import inspect
import warnings

import pytest

import toolchain_sdk as tc
from tests._subproc import ROOT, run_python
from tests.test_imports import MODULES

PUBLIC_PACKAGES = ["toolchain_sdk", *(f"toolchain_sdk.{p}" for p in (
    "approval", "approval.store", "audit", "console", "evals", "fallbacks", "flags", "inventory", "prompts",
    "redaction", "routing", "tracing"))]  # fmt: skip


@pytest.mark.parametrize("name", PUBLIC_PACKAGES)
def test_each_public_package_exports_a_sorted_complete_all(name: str) -> None:
    """Each public face lists, sorted, every public class and function it holds, and each listed name exists."""
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported)
    assert [n for n in exported if not hasattr(module, n)] == []
    own = [
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(v) or inspect.isfunction(v))
        and (getattr(v, "__module__", "") + ".").startswith(name + ".")
    ]
    assert sorted(set(own) - set(exported)) == []


def test_every_module_declares_all() -> None:
    """Every module, private ones included, says what it exports (httpx style)."""
    missing = []
    for name in MODULES:
        if name in ("toolchain_sdk.__main__", "toolchain_sdk._core"):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = importlib.import_module(name)
        if not isinstance(getattr(module, "__all__", None), (list, tuple)):
            missing.append(name)
    assert missing == []


@pytest.mark.parametrize(
    ("old", "new_home", "name"),
    [
        ("toolchain_sdk.flag_file", "toolchain_sdk.flags", "FlagFile"),
        ("toolchain_sdk.flag_sources", "toolchain_sdk.flags", "EnvSource"),
        ("toolchain_sdk.approval_store", "toolchain_sdk.approval", "open_store"),
    ],
)
def test_moved_modules_still_import_with_a_deprecation_warning(old: str, new_home: str, name: str) -> None:
    """The module paths of 0.1 keep working for one release, warning where the names live now."""
    run = run_python(
        f"""
        import warnings
        warnings.simplefilter("error", DeprecationWarning)
        try:
            import {old}
        except DeprecationWarning as w:
            print("warned:", w)
        warnings.simplefilter("ignore", DeprecationWarning)
        import {old} as old, {new_home} as new
        print(old.{name} is new.{name})
        """
    )
    assert run.returncode == 0, run.stderr
    warned, same = run.stdout.strip().splitlines()
    assert warned.startswith("warned:") and new_home in warned
    assert same == "True"


def test_version_comes_from_package_metadata() -> None:
    """One version string: the installed distribution's."""
    from importlib import metadata

    assert tc.__version__ == metadata.version("toolchain-sdk")


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted and every name in it exists."""
    assert list(tc.__all__) == sorted(tc.__all__)
    for name in tc.__all__:
        assert hasattr(tc, name), name


def test_public_names_are_not_private() -> None:
    """No private name is exported."""
    assert not [n for n in tc.__all__ if n.startswith("_")]


def test_package_is_typed() -> None:
    """py.typed ships with the package."""
    assert (ROOT / "toolchain_sdk" / "py.typed").exists()


def test_import_sets_nothing_up() -> None:
    """Importing and decorating installs no tracer provider and reads no env var (spy in place before the import)."""
    code = """
    import os, sys
    reads = []
    class Spy(dict):
        def get(self, k, d=None):
            reads.append(k); return super().get(k, d)
        def __getitem__(self, k):
            reads.append(k); return super().__getitem__(k)
        def __contains__(self, k):
            reads.append(k); return super().__contains__(k)
    from opentelemetry import trace
    import opentelemetry.sdk.trace  # third-party imports may read their own variables: done before the spy
    assert "toolchain_sdk" not in sys.modules
    spy = Spy(os.environ); os.environ = spy
    import toolchain_sdk as tc
    @tc.governed_call("imp.surface")
    def f(): return 1
    os.environ = dict(spy)
    from opentelemetry.sdk.trace import TracerProvider
    ours = [r for r in reads if r.startswith(("TOOLCHAIN", "OTEL"))]
    print(isinstance(trace.get_tracer_provider(), TracerProvider), ours)
    """
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False []"
