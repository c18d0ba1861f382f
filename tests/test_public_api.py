"""The public surface: sorted, complete __all__, py.typed, no I/O or env reads at import."""

from __future__ import annotations

import toolchain_sdk as tc
from tests._subproc import ROOT, run_python


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
    """Importing and decorating installs no tracer provider and reads no env var."""
    code = """
    import os
    reads = []
    class Spy(dict):
        def get(self, k, d=None):
            reads.append(k); return super().get(k, d)
        def __getitem__(self, k):
            reads.append(k); return super().__getitem__(k)
    from opentelemetry import trace
    import toolchain_sdk as tc
    spy = Spy(os.environ); os.environ = spy
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
