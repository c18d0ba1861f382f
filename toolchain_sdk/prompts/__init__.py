"""Versioned prompt files, ``{{ name }}`` rendering, and the lock that makes them reviewable.

One file per version, ``prompts/<name>@<version>.md`` (or ``.txt``), optional YAML front matter,
and a ``{{ name }}`` template that renders strictly (see ``docs/prompts.md``). A prompt's identity
is its name, version and the SHA-256 of its file's bytes; ``prompts.lock`` records that hash for
every version, ``toolchain prompts verify`` fails CI when a file no longer matches it, and labels
(``name@production``) point at locked versions so a rollback is one reviewed line.

    import toolchain_sdk as tc

    refund = tc.prompt("support_refund_policy@production")
    text = refund.render(customer="Ann", body="...")
"""

from toolchain_sdk.prompts._files import TOOLCHAIN_PROMPTS_DIR, prompts_dir
from toolchain_sdk.prompts._lock import LOCK_FILE, LOG_FILE, Problem, verify
from toolchain_sdk.prompts._prompt import Prompt, set_render_listener
from toolchain_sdk.prompts._resolve import TOOLCHAIN_PROMPT_DRIFT, DriftMode, load_prompt, prompt, resolve

__all__ = [
    "DriftMode",
    "LOCK_FILE",
    "LOG_FILE",
    "Problem",
    "Prompt",
    "TOOLCHAIN_PROMPTS_DIR",
    "TOOLCHAIN_PROMPT_DRIFT",
    "load_prompt",
    "prompt",
    "prompts_dir",
    "resolve",
    "set_render_listener",
    "verify",
]
