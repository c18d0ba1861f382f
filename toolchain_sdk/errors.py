"""The exception hierarchy of toolchain_sdk.

::

    ToolchainError
     ├── ConfigError          bad configuration, raised at decoration / configure() time
     │    └── PromptError     a prompt file, reference or render is wrong (unknown version, missing value)
     │         └── PromptDrift  a prompt file no longer matches the hash it was locked with
     ├── ApprovalDenied       a gated call had no explicit approval (fail closed)
     ├── DecisionRefused      an approval store refused a decision (unknown, already decided, expired)
     ├── KillSwitchEngaged    a switched-off surface has no fallback to answer with
     ├── FallbackFailed       the fallback handler itself raised (chained to the cause)
     └── AuditUnavailable     a high-risk call could not be recorded, so it did not run

Exceptions raised by the wrapped function are never wrapped: they propagate unchanged.
"""

from __future__ import annotations

__all__ = [
    "ApprovalDenied",
    "AuditUnavailable",
    "ConfigError",
    "DecisionRefused",
    "FallbackFailed",
    "KillSwitchEngaged",
    "PromptDrift",
    "PromptError",
    "ToolchainError",
]


class ToolchainError(Exception):
    """Base class of every error the SDK raises itself."""


class ConfigError(ToolchainError, ValueError):
    """A surface or ``configure()`` was set up wrongly; the message says what to change."""


class PromptError(ConfigError):
    """A prompt cannot be used as written: a malformed or unknown reference, a bad template or front
    matter, a missing or unexpected value at render time, or a lock file that cannot be read."""


class PromptDrift(PromptError):
    """A prompt file's bytes differ from the SHA-256 recorded for its version in ``prompts.lock``.

    The version was edited in place after it was locked: write a new version file instead (or, with
    ``TOOLCHAIN_PROMPT_DRIFT=warn``, run on with a warning and ``toolchain.prompt.drift=true``).

    Attributes:
        ref: ``name@version`` of the drifted file.
        file: the file's path.
        locked_sha256: the hash recorded in the lock.
        actual_sha256: the hash of the file's bytes now.
    """

    def __init__(self, message: str, *, ref: str, file: str, locked_sha256: str, actual_sha256: str) -> None:
        super().__init__(message)
        self.ref = ref
        self.file = file
        self.locked_sha256 = locked_sha256
        self.actual_sha256 = actual_sha256


class ApprovalDenied(ToolchainError):
    """A gated call was not explicitly approved: denied, timed out, or the approver failed.

    Attributes:
        request_id: id of the approval request, when one was made.
        decision: ``denied``, ``timeout`` or ``error``.
        reason: the approver's reason, or what went wrong.
    """

    def __init__(
        self, message: str, *, request_id: str | None = None, decision: str = "denied", reason: str = ""
    ) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.decision = decision
        self.reason = reason


class DecisionRefused(ToolchainError):
    """A decision an approval store will not record: unknown request, already decided (or timed
    out, cancelled), expired, bound to other arguments/output than the request's, or an edit that
    does not fit the request. The request is left as it was."""


class KillSwitchEngaged(ToolchainError):
    """The surface's kill flag is on and there is no fallback to answer: a surface without one, or
    a ``governed()`` block (a block has no function to replace, so its body is skipped).

    Attributes:
        surface: the surface name.
        flag: the flag key.
        block: whether it was raised when entering a ``governed()`` block.
    """

    def __init__(self, surface: str, flag: str, *, block: bool = False) -> None:
        where = (
            "`toolchain flags` shows which entry matched (restore exactly that one with "
            "`toolchain restore ENTRY --reason ...`)"
        )
        if block:
            todo = "the block's body was skipped: catch tc.KillSwitchEngaged around the `with` and answer another way"
        else:
            todo = "or declare fallback=... on the surface"
        super().__init__(f"surface {surface!r} is switched off by flag {flag!r}; {where}; {todo}")
        self.surface = surface
        self.flag = flag
        self.block = block


class FallbackFailed(ToolchainError):
    """The deterministic fallback handler raised; ``__cause__`` holds its exception."""


class AuditUnavailable(ToolchainError):
    """The audit sink could not record a high-risk call, so the call did not proceed.

    Raised by ``toolchain_sdk.audit`` sinks (``check()``, ``append()``) and ``audit.write``, chained to
    the cause; a record that could not be appended is kept in a spool file the message names.
    """
