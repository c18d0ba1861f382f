"""Every gen_ai.*, feature_flag.*, server.* and error.* name the SDK emits, checked against the installed
opentelemetry-semantic-conventions package: defined (or only moved to the GenAI conventions repository),
never deprecated in favour of another name; the few the package lacks are listed with their upstream source.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from toolchain_sdk import semconv

MODULES = [
    "opentelemetry.semconv.attributes.error_attributes",
    "opentelemetry.semconv.attributes.server_attributes",
    "opentelemetry.semconv._incubating.attributes.gen_ai_attributes",
    "opentelemetry.semconv._incubating.attributes.feature_flag_attributes",
    "opentelemetry.semconv._incubating.attributes.server_attributes",
    "opentelemetry.semconv._incubating.metrics.gen_ai_metrics",
]
"""Where the names live (stable modules first: a stable definition wins over an incubating deprecation)."""

NOT_IN_PACKAGE = {
    "gen_ai.prompt.version": "semantic-conventions-genai registry (gen_ai.prompt.* group; the package has "
    "gen_ai.prompt.name only)",
    "gen_ai.usage.cache_write.input_tokens": "semantic-conventions-genai#440 renamed "
    "gen_ai.usage.cache_creation.input_tokens to it; the package has no constant for it yet",
    "feature_flag.evaluation": "semantic-conventions docs/feature-flags/feature-flags-events.md (the event); "
    "the package ships no event constants",
}
"""Names the SDK emits that the installed package does not define, each with its upstream reference."""

OURS_PREFIXES = ("gen_ai.", "feature_flag.", "server.", "error.")


def _definitions() -> dict[str, str]:
    """Name → its docstring, for every string constant of the modules above (first definition wins)."""
    found: dict[str, str] = {}
    for module_name in MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        body = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8")).body
        for i, node in enumerate(body):
            if not (isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Constant)):
                continue
            name = node.value.value
            if not isinstance(name, str):
                continue
            following = body[i + 1] if i + 1 < len(body) else None
            doc = ""
            if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
                doc = str(following.value.value)
            found.setdefault(name, doc)
    return found


DEFINED = _definitions()
EMITTED = sorted(
    {v for k, v in vars(semconv).items() if k.isupper() and isinstance(v, str) and v.startswith(OURS_PREFIXES)}
)


def _verdict(name: str) -> str:
    doc = DEFINED.get(name)
    if doc is None:
        return "missing"
    if "Deprecated" not in doc:
        return "defined"
    if "Moved to the" in doc and "GenAI" in doc:
        return "moved"  # a move to the GenAI conventions repository, not a rename
    return "deprecated: " + doc.split("Deprecated", 1)[1].strip()


def test_the_package_is_read() -> None:
    """The check sees the package (so an empty lookup cannot pass everything)."""
    assert DEFINED.get("feature_flag.key") is not None
    assert "Replaced by `feature_flag.result.reason`" in DEFINED["feature_flag.evaluation.reason"]
    assert len(EMITTED) > 20


def test_a_renamed_name_would_fail() -> None:
    """An old name the package deprecated in favour of another is reported as such."""
    assert _verdict("feature_flag.evaluation.reason").startswith("deprecated")
    assert _verdict("feature_flag.variant").startswith("deprecated")


@pytest.mark.parametrize("name", EMITTED)
def test_each_emitted_name_is_current(name: str) -> None:
    """Defined, or moved to the GenAI repository, or an explicit exception with its reference."""
    verdict = _verdict(name)
    if name in NOT_IN_PACKAGE:
        assert verdict == "missing", f"{name} is in the package now ({verdict}): drop it from NOT_IN_PACKAGE"
        return
    assert verdict in ("defined", "moved"), f"{name}: {verdict}"
