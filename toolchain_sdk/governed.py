"""``@governed_call`` and ``governed(...)``: declaring a surface and compiling its pipeline.

Everything that can be checked is checked here, at decoration time, so misconfiguration fails
with a ``ConfigError`` before the first call. The per-call work lives in ``_pipeline`` and is
driven for each function kind by ``_wrap``.
"""

from __future__ import annotations

import functools
import inspect
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ParamSpec, TypedDict, TypeVar, Unpack, cast

import wrapt
from pydantic import ValidationError

from toolchain_sdk import approval as _approval
from toolchain_sdk import config as _config
from toolchain_sdk import flags as _flags
from toolchain_sdk import routing as _routing
from toolchain_sdk._core.binding import CALL_PARAM, Binder, function_kind
from toolchain_sdk._core.call import CallRecord, GovernedCall
from toolchain_sdk._core.pipeline import Gate, Surface, enter, leave
from toolchain_sdk._core.recording import AuditCheck
from toolchain_sdk.errors import ConfigError
from toolchain_sdk.inventory import Capture, Risk, SurfaceSpec, register
from toolchain_sdk.prompts import Prompt
from toolchain_sdk.prompts import resolve as _resolve_ref

__all__ = ["SurfaceOptions", "governed", "governed_call"]

P = ParamSpec("P")
R = TypeVar("R")

_SURFACE_RE = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*")
_RISKS = ("low", "medium", "high")
_CAPTURES = ("none", "hash", "redacted", "full")


# --- declaration ------------------------------------------------------------------------------
def _validate(surface: str, risk: str, capture: str, operation: str) -> None:
    if callable(surface) and not isinstance(surface, str):
        raise ConfigError(
            f'@governed_call needs a surface name: write @tc.governed_call("support.refund_reply", ...) above '
            f"{getattr(surface, '__qualname__', surface)!s}, not a bare @tc.governed_call"
        )
    if not isinstance(surface, str) or not _SURFACE_RE.fullmatch(surface):
        raise ConfigError(
            f"surface name {surface!r} is not valid: use a stable dotted name of letters, digits, "
            "'_' or '-', e.g. 'support.refund_reply'"
        )
    if risk not in _RISKS:
        raise ConfigError(f"{surface}: risk={risk!r} is not one of {', '.join(_RISKS)}")
    if capture not in _CAPTURES:
        raise ConfigError(f"{surface}: capture={capture!r} is not one of {', '.join(_CAPTURES)}")
    if not operation or not isinstance(operation, str):
        raise ConfigError(f"{surface}: operation must be a non-empty string such as 'chat' or 'embeddings'")


def _describe(func: object) -> str:
    """A function's name for messages and the registry (a ``functools.partial`` has no ``__qualname__``)."""
    qualname = getattr(func, "__qualname__", None)
    if qualname is None and isinstance(func, functools.partial):
        return f"functools.partial({_describe(func.func)})"
    return str(qualname or type(func).__qualname__)


def _resolve_prompt(surface: str, prompt: str | Prompt | None) -> Prompt | None:
    if prompt is None or isinstance(prompt, Prompt):
        return prompt
    if isinstance(prompt, str):
        return _resolve_ref(prompt, _config.current_settings().prompts_dir)
    raise ConfigError(
        f"{surface}: prompt must be 'name@version', 'name@label' or a tc.Prompt, not {type(prompt).__name__}"
    )


def _unwrap_descriptor(func: Any) -> Callable[..., Any]:
    return cast(Callable[..., Any], func.__func__ if isinstance(func, (classmethod, staticmethod)) else func)


class SurfaceOptions(TypedDict, total=False):
    """The keyword arguments of ``governed_call`` and ``governed`` (one list for both; see ``governed_call``)."""

    owner: str | None
    model: str | None
    provider: str | None
    prompt: str | Prompt | None
    risk: Risk
    capture: Capture
    operation: str
    route: str | None
    data_class: str | None
    kill_flag: str | None
    kill_default: bool
    fallback: Callable[..., Any] | None
    approval: object
    flags: Sequence[_flags.SourceSpec] | None
    exclude_args: Sequence[str]


_DEFAULTS: SurfaceOptions = {
    "owner": None,
    "model": None,
    "provider": None,
    "prompt": None,
    "risk": "low",
    "capture": "hash",
    "operation": "chat",
    "route": None,
    "data_class": None,
    "kill_flag": None,
    "kill_default": False,
    "fallback": None,
    "approval": None,
    "flags": None,
    "exclude_args": (),
}


@dataclass(frozen=True)
class _Declaration:
    """Everything a surface declares: its name and its options with the defaults filled in."""

    surface: str
    options: SurfaceOptions

    @classmethod
    def of(cls, surface: str, options: SurfaceOptions) -> _Declaration:
        """Check the option names and fill in defaults (``ConfigError`` for an unknown name)."""
        unknown = sorted(set(options) - set(_DEFAULTS))
        if unknown:
            raise ConfigError(
                f"{surface}: unknown argument(s) {', '.join(unknown)}; accepted: {', '.join(sorted(_DEFAULTS))}"
            )
        full: SurfaceOptions = {**_DEFAULTS, **options}
        for name in ("owner", "model", "provider", "route", "data_class", "kill_flag"):
            value = full[name]
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{surface}: {name} must be a string, not {type(value).__name__} ({value!r})")
        if full["flags"] is not None and not isinstance(full["flags"], (str, bytes)):
            full["flags"] = tuple(full["flags"])
        exclude = full["exclude_args"]
        if isinstance(exclude, str) or not all(isinstance(n, str) for n in exclude):
            raise ConfigError(
                f"{surface}: exclude_args must be a tuple of parameter names, e.g. exclude_args=('client',)"
            )
        full["exclude_args"] = tuple(exclude)
        return cls(surface, full)

    def key(self) -> tuple[object, ...]:
        """A hashable identity: equal declarations give equal keys (unhashable values count by identity)."""
        return (self.surface, *(_cache_key(self.options.get(name)) for name in _DEFAULTS))


def _compile(d: _Declaration, kind: str, func: Callable[..., Any] | None) -> Surface:
    """Validate a declaration, build its gates, register its spec and compile its pipeline."""
    o, surface = d.options, d.surface
    _validate(surface, o["risk"], o["capture"], o["operation"])
    resolved = _resolve_prompt(surface, o["prompt"])
    route, targets, exposure = _routing_of(surface, o, kind)
    model, provider = (route.targets[0].model, route.targets[0].provider) if route else (o["model"], o["provider"])
    target = func or _no_target
    kill_gate = _flags.build_kill_gate(
        surface=surface, risk=o["risk"], flag=o["kill_flag"], default=o["kill_default"], fallback=o["fallback"],
        func=target, kind=kind, owner=o["owner"], sources=o["flags"],
    )  # fmt: skip
    approval_gate = _approval.build_approval_gate(
        surface=surface, risk=o["risk"], approval=o["approval"], fallback=kill_gate.fallback, func=target, kind=kind
    )
    spec = register(
        _spec(
            surface=surface,
            owner=o["owner"],
            risk=o["risk"],
            operation=o["operation"],
            model=model,
            provider=provider,
            route=o["route"],
            targets=targets,
            exposure=exposure,
            prompt=resolved.ref if resolved else None,
            prompt_label=resolved.label if resolved else None,
            prompt_sha256=resolved.sha256 if resolved else None,
            capture=o["capture"],
            data_class=o["data_class"] or _routing.DEFAULT_DATA_CLASS,
            kill_flag=kill_gate.flag,
            kill_default=o["kill_default"],
            fallback=kill_gate.fallback_name,
            approval=approval_gate.describe() if approval_gate is not None else None,
            exclude_args=_excluded(surface, func, o["exclude_args"]),
            kind=kind,
            location=f"{getattr(func, '__module__', '?')}:{_describe(func)}" if func is not None else None,
        )
    )
    gates: list[Gate] = [AuditCheck(), kill_gate] if spec.risk == "high" else [kill_gate]  # no record, no call
    if approval_gate is not None:
        gates.append(approval_gate)
    inject = CALL_PARAM in inspect.signature(target).parameters
    return Surface(spec, resolved, Binder(target), inject, tuple(gates), route, _routing if route else None)


def governed_call(surface: str, **options: Unpack[SurfaceOptions]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Govern every call of the decorated function: traced, hashed, inventoried, switchable, gated.

    Works on ``def``, ``async def``, generators and async generators, instance methods, class
    methods and static methods. A parameter named ``call`` receives the ``GovernedCall`` handle.

    Args:
        surface: stable dotted name of this place in the product, e.g. ``support.refund_reply``.
        owner: the team answerable for it.
        model, provider: the requested model and the GenAI provider name (``openai``, ...).
        prompt: ``"name@version"`` or ``"name@label"`` of a file under the prompts directory
            (``docs/prompts.md``), or a ``tc.Prompt``.
        risk: ``low`` (default), ``medium`` or ``high``.
        capture: ``hash`` (default: input/output hashes only) or ``none`` (metadata only).
        operation: ``gen_ai.operation.name`` (default ``chat``).
        route: a route of ``toolchain.toml`` (``[routes.NAME]``): its targets are called in order,
            with retries (``docs/routing.md``); replaces ``model=``/``provider=``.
        data_class: the class of data the surface sends (``pii``, ``confidential``, ``internal``
            (default), ``public`` or a class the config defines), checked against ``[exposure]``.
        kill_flag: the flag that switches the surface to its fallback (default ``<surface>.kill``).
        kill_default: the switch state to assume before any flag source answered.
        fallback: deterministic handler with the same signature, answering when the switch is on.
        approval: ``tc.approval.require(...)`` or ``tc.approval.not_required(reason=...)``.
        flags: this surface's kill-switch sources, replacing ``configure(flags=...)`` for it
            (e.g. ``["env", tc.flags.OpenFeatureSource(domain="support")]``).
        exclude_args: parameters left out of the input hash and of what approvers see (e.g. a
            client object: ``exclude_args=("client",)``); they are still passed to the function.

    Raises:
        ConfigError: at decoration time, for a bad surface name, risk, capture mode, prompt, a
            positional-only ``call`` parameter, a missing fallback or approval where the risk
            needs one, or a surface already registered differently.
        Failure policy: tracing fails open (the call goes on, one warning); the kill switch and
            approval fail closed; the wrapped function's own exceptions propagate unchanged.
    """
    declaration = _Declaration.of(surface, options)
    o = declaration.options
    _validate(surface, o["risk"], o["capture"], o["operation"])
    if isinstance(o["prompt"], str):  # a missing prompt file fails here, before any function is given
        o["prompt"] = _resolve_prompt(surface, o["prompt"])

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        inner = _unwrap_descriptor(func)
        if not callable(inner):
            raise ConfigError(f"{surface}: @governed_call needs a function, got {type(func).__name__}")
        call_param = inspect.signature(inner).parameters.get(CALL_PARAM)
        if call_param is not None and call_param.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ConfigError(
                f"{surface}: parameter 'call' of {_describe(inner)} is positional-only; make it keyword "
                "(e.g. `def f(x, *, call)`) so the SDK can inject it"
            )
        if call_param is not None and call_param.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            raise ConfigError(f"{surface}: 'call' must be a named parameter, not *call/**call")
        kind = function_kind(inner)
        compiled = _compile(declaration, kind, inner)
        from toolchain_sdk._core.wrap import wrapper_for

        return cast(Callable[P, R], wrapt.FunctionWrapper(func, wrapper_for(compiled, kind)))

    return decorate


class governed:  # noqa: N801 - used like a function: `with tc.governed(...) as call:`
    """Govern a block of code that is not one function: ``with tc.governed("surface", ...) as call:``.

    Also ``async with``. The block's output is what it passes to ``call.record_output(x)``. An
    exception leaving the block marks the span as an error and propagates unchanged. The same
    declaration is compiled once and reused. When the kill switch is on, entering the block raises
    ``KillSwitchEngaged`` so the body never runs (catch it and answer with the fallback).

    Raises:
        ConfigError: bad arguments, as for ``governed_call``, when the block is created.
    """

    __slots__ = ("_call", "_surface", "_tokens")

    def __init__(self, surface: str, **options: Unpack[SurfaceOptions]) -> None:
        self._surface = _BLOCKS.get(surface, options)
        self._call: CallRecord | None = None
        self._tokens: tuple[object, object] | None = None

    def __enter__(self) -> GovernedCall:
        call = self._call = self._surface.begin(None, (), {})
        self._tokens = enter(call)
        try:
            self._surface.run_gates(call, _no_target)
        except BaseException as exc:
            leave(self._tokens)
            self._surface.fail(call, exc)
            raise
        return call.handle

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        call, tokens = self._call, self._tokens
        assert call is not None and tokens is not None
        leave(tokens)
        if exc is not None:
            self._surface.fail(call, exc)
        else:
            self._surface.finish(call, None, has_output=False)

    async def __aenter__(self) -> GovernedCall:
        call = self._call = self._surface.begin(None, (), {})
        self._tokens = enter(call)
        try:
            await self._surface.arun_gates(call, _no_target)
        except BaseException as exc:
            leave(self._tokens)
            self._surface.fail(call, exc)
            raise
        return call.handle

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class _BlockCache:
    """Compiled ``governed()`` blocks, keyed by declaration: equal ones share an entry, at most ``size``.

    A block written inline with a new ``fallback=lambda ...`` each time is a new declaration each
    time, so the least recently used entries go first.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[object, ...], Surface] = OrderedDict()
        self._as_written: dict[object, tuple[tuple[object, ...], Surface]] = {}  # keywords as written → (key, block)
        self._lock = threading.Lock()

    def get(self, surface: str, options: SurfaceOptions) -> Surface:
        """The compiled block for a declaration; the same keywords as before cost one dict lookup."""
        written: tuple[object, ...] | None = (surface, *options.items())
        try:
            seen = self._as_written.get(written)
        except TypeError:  # an unhashable option value (a list of sources): normalise every time
            seen, written = None, None
        if seen is not None:
            try:
                self._entries.move_to_end(seen[0])  # recently used: stays compiled (one C call, atomic)
                return seen[1]
            except KeyError:  # evicted since: compile again below
                pass
        declaration = _Declaration.of(surface, options)
        key = declaration.key()
        found = self._get(key, declaration)
        if written is not None:
            if len(self._as_written) >= self.size:
                self._as_written.clear()
            self._as_written[written] = (key, found)
        return found

    def _get(self, key: tuple[object, ...], declaration: _Declaration) -> Surface:
        with self._lock:
            compiled = self._entries.get(key)
            if compiled is not None:
                self._entries.move_to_end(key)
                return compiled
        compiled = _compile(declaration, "block", None)
        with self._lock:
            self._entries[key] = compiled
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return compiled

    def __len__(self) -> int:
        return len(self._entries)


_BLOCKS = _BlockCache(1024)


def _routing_of(
    surface: str, o: SurfaceOptions, kind: str
) -> tuple[_routing.Route | None, tuple[str, ...], tuple[str, ...]]:
    """The surface's route, the ``provider:model`` targets it may call, and the exposure rules that allow them.

    The configuration file is read only for a surface that declares ``route=`` or ``data_class=``
    (or once it has been read already), so decorating anything else reads no file.
    """
    name = o["route"]
    if name is not None and (o["model"] is not None or o["provider"] is not None):
        raise ConfigError(
            f"{surface}: route={name!r} names the models; drop model=/provider= (the route's targets say them)"
        )
    if name is not None and kind == "block":
        raise ConfigError(f"{surface}: a governed() block has no function to call again; use route= on a function")
    wants_file = name is not None or o["data_class"] is not None
    config = _routing.current_config() if wants_file else _routing.loaded_config()
    route = _routing.get_route(config, name) if name is not None else None
    pairs = [(t.provider, t.model) for t in route.targets] if route else [(o["provider"], o["model"])]
    rules = _routing.check_exposure(config, surface, o["data_class"], pairs)
    described = tuple(f"{p or '?'}:{m or '?'}" for p, m in pairs if p or m)
    return route, described, tuple(rules)


def _spec(**fields: Any) -> SurfaceSpec:
    """The surface's ``SurfaceSpec``; a field of the wrong type is a ``ConfigError`` naming the surface.

    ``file``, ``line`` and ``function`` say where it was declared (for ``toolchain inventory --import``):
    the first frame outside the SDK and wrapt is the decorator being applied or the ``with`` statement.
    """
    import sys

    frame = sys._getframe(1)
    while frame is not None and str(frame.f_globals.get("__name__", "")).split(".")[0] in ("toolchain_sdk", "wrapt"):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is not None:
        location = fields.get("location")
        fields = {
            "file": frame.f_code.co_filename,
            "line": frame.f_lineno,
            "function": location.partition(":")[2] if location else frame.f_code.co_qualname,
            **fields,
        }
    try:
        return SurfaceSpec(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}={e.get('input')!r}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{fields['surface']}: {problems}") from None


def _excluded(surface: str, func: Callable[..., Any] | None, names: Sequence[str]) -> tuple[str, ...]:
    """Check ``exclude_args`` against the function's parameters (a block has none to exclude)."""
    if not names:
        return ()
    if func is None:
        raise ConfigError(f"{surface}: a governed() block has no arguments to exclude; drop exclude_args")
    params = inspect.signature(func).parameters
    unknown = [n for n in names if n not in params or n == CALL_PARAM]
    if unknown:
        raise ConfigError(
            f"{surface}: exclude_args names {', '.join(unknown)}, which {_describe(func)} has no parameter for "
            f"(it has: {', '.join(p for p in params if p != CALL_PARAM)})"
        )
    return tuple(names)


def _no_target() -> None:
    return None


def _cache_key(value: object) -> object:
    """``value`` itself when hashable, else its identity (policies may be unhashable objects)."""
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return value
