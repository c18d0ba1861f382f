"""Checks the demo's evals name with ``python: examples.evals.checks:...`` (a model-graded check would go here)."""

from __future__ import annotations

from typing import Any


def is_polite(output: str, case: Any) -> tuple[bool, str]:
    """The reply thanks the customer (``(passed, reason)``: the reason shows in the results table)."""
    if "thanks" in output.lower() or "thank you" in output.lower():
        return True, ""
    return False, "the reply does not thank the customer"
