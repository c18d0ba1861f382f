"""Deterministic fallback handlers: `static`, `template`, `raise_` (fitting to a surface: ``fit``).

A fallback answers instead of the model when the surface's kill switch is on. It takes the same
arguments as the governed function (checked when decorating: an incompatible signature is a
``ConfigError``), may declare ``call`` to get the ``GovernedCall``, and must match the surface's
kind: a sync surface needs a sync handler; an async surface takes a sync or async one; a
streaming surface takes a generator (async generator) or a plain function, whose result is
streamed as one chunk. A handler that raises becomes ``FallbackFailed`` chained to the cause —
except ``raise_``, whose exception is the intended answer and propagates unchanged.

Ready-made handlers for the common cases::

    fallback=tc.fallbacks.static("Our assistant is paused; a person will reply within a day.")
    fallback=tc.fallbacks.template("Dear {ticket.customer}, we received request {ticket.id}.")
    fallback=tc.fallbacks.raise_(PermissionError("refund replies are switched off"))
"""

from toolchain_sdk.fallbacks._fit import FittedFallback, fit, handler_name
from toolchain_sdk.fallbacks._handlers import Fallback, raise_, static, template

__all__ = ["Fallback", "FittedFallback", "fit", "handler_name", "raise_", "static", "template"]
