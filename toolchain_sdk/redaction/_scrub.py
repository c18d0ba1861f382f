"""The scrubber every exported text of the SDK passes through: exception messages, stack traces,
span status descriptions, event attributes, reviewer views.

It fails closed: if scrubbing itself fails, the text is replaced by a placeholder rather than
exported as it is. Structures are walked without recursion and only to a bounded depth, so no
input can make it raise ``RecursionError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from toolchain_sdk.redaction._patterns import REDACTED, SECRET_KEY_RE, SECRET_VALUE_RE, card_number, us_ssn

__all__ = ["MAX_DEPTH", "TOO_DEEP", "UNSCRUBBABLE", "scrub", "scrub_text"]

MAX_DEPTH: Final = 64
"""How deep ``scrub`` walks nested lists and mappings; anything deeper becomes ``TOO_DEEP``."""
TOO_DEEP: Final = "[TOO DEEP]"
UNSCRUBBABLE: Final = "[REDACTED: could not be scrubbed]"


def scrub_text(text: str) -> str:
    """``text`` with API keys, tokens, private keys, credentials, US SSNs and card numbers as ``[REDACTED]``."""
    try:
        return card_number(us_ssn(SECRET_VALUE_RE.sub(REDACTED, text)))
    except Exception:  # fail closed: never export what could not be checked
        return UNSCRUBBABLE


def scrub(value: object) -> object:
    """A copy of a JSON-like value (str, list, dict, scalars) with every string scrubbed.

    Values under keys that name secrets (``password``, ``token``, ``api_key``, ...) are replaced
    whole. Nesting deeper than ``MAX_DEPTH`` is replaced by ``[TOO DEEP]``.
    """
    root: list[Any] = [None]
    stack: list[tuple[object, Any, Any, int]] = [(value, root, 0, 0)]
    while stack:
        item, parent, slot, depth = stack.pop()
        if isinstance(item, str):
            out: object = scrub_text(item)
        elif depth >= MAX_DEPTH and isinstance(item, (list, tuple, Mapping)):
            out = TOO_DEEP
        elif isinstance(item, (list, tuple)):
            out = [None] * len(item)  # filled in as its items come off the stack
            stack.extend((v, out, i, depth + 1) for i, v in enumerate(item))
        elif isinstance(item, Mapping):
            mapping: dict[object, object] = {}
            out = mapping
            for k, v in item.items():
                if SECRET_KEY_RE.search(str(k)):
                    mapping[k] = REDACTED
                else:
                    mapping[k] = None
                    stack.append((v, mapping, k, depth + 1))
        else:
            out = item
        parent[slot] = out
    return root[0]
