"""configure(instrument=[...]) / TOOLCHAIN_INSTRUMENT: client instrumentation on, or a clear error."""

from __future__ import annotations

import pytest

from tests._subproc import run_python


def test_openai_instrumentation_is_turned_on() -> None:
    """instrument=["openai"] instruments the OpenAI client with the official OTel instrumentation."""
    proc = run_python(
        """
        import toolchain_sdk as tc
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
        print(OpenAIInstrumentor().is_instrumented_by_opentelemetry)
        tc.configure(exporter="none", instrument=["openai"])
        print(OpenAIInstrumentor().is_instrumented_by_opentelemetry)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True"]


def test_env_var_names_the_clients() -> None:
    """TOOLCHAIN_INSTRUMENT=openai,anthropic does the same without code."""
    proc = run_python(
        """
        import os
        os.environ["TOOLCHAIN_INSTRUMENT"] = "openai, anthropic"
        import toolchain_sdk as tc
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
        settings = tc.configure(exporter="none")
        print(settings.instrument, OpenAIInstrumentor().is_instrumented_by_opentelemetry)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "('openai', 'anthropic') True"


@pytest.mark.parametrize(
    ("blocked", "clients", "says"),
    [
        ("opentelemetry.instrumentation.openai_v2", '["openai"]', "pip install 'toolchain-sdk[openai]'"),
        (None, '["cohere"]', "unknown client(s) cohere"),
    ],
)
def test_missing_or_unknown_client_is_a_clear_config_error(blocked: str | None, clients: str, says: str) -> None:
    """A client that is not installed (or not known) fails configure() saying what to install."""
    block = f"import sys; sys.modules[{blocked!r}] = None" if blocked else ""
    proc = run_python(
        f"""
        {block}
        import toolchain_sdk as tc
        try:
            tc.configure(exporter="none", instrument={clients})
        except tc.ConfigError as exc:
            print(exc)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert says in proc.stdout
