"""Matching exceptions against retry_on names: bare, module-qualified, package-qualified, bases, aliases."""

from __future__ import annotations

import asyncio
import keyword
import sys
from typing import Any

import anthropic
import httpx
import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolchain_sdk.routing import DEFAULT_RETRY_ON, error_matches, retryable


def _vendor_error(module: str, name: str, base: type[Exception] = Exception) -> type[Exception]:
    """A class that looks defined in ``module`` (like ``openai._exceptions.RateLimitError``)."""
    cls = type(name, (base,), {})
    cls.__module__ = module
    return cls


RateLimitError = _vendor_error("somevendor._exceptions", "RateLimitError")


@pytest.mark.parametrize(
    "name",
    ["RateLimitError", "somevendor.RateLimitError", "somevendor._exceptions.RateLimitError", "Exception"],
)
def test_a_class_matches_by_bare_module_or_package_name(name: str) -> None:
    """A vendor error matches its bare name, its defining module's name, its package's name, and its bases."""
    assert error_matches(RateLimitError("429"), [name])


@pytest.mark.parametrize(
    "name", ["RateLimit", "othervendor.RateLimitError", "somevendor.other.RateLimitError", "ValueError"]
)
def test_other_names_do_not_match(name: str) -> None:
    """A different class, or the same name in another package or module, does not match."""
    assert not error_matches(RateLimitError("429"), [name])


def test_a_subclass_matches_its_base_by_name() -> None:
    """An error matches any class of its MRO: a subclass of TimeoutError matches 'TimeoutError'."""
    slow = _vendor_error("vendor.errors", "Slow", TimeoutError)
    assert error_matches(slow(), ["TimeoutError"])
    assert error_matches(slow(), ["builtins.TimeoutError"])
    assert not error_matches(TimeoutError(), ["vendor.Slow"])


def test_aliases_of_already_imported_modules_match() -> None:
    """asyncio.TimeoutError names TimeoutError itself (Python 3.11): the alias resolves through sys.modules."""
    assert error_matches(TimeoutError(), ["asyncio.TimeoutError"])
    assert error_matches(asyncio.TimeoutError(), ["TimeoutError"])  # noqa: UP041 - the alias is the point


def test_no_library_is_imported_to_check_a_name() -> None:
    """A name in a package that is not loaded is simply not matched; nothing gets imported."""
    before = set(sys.modules)
    assert not error_matches(ValueError(), ["not_a_loaded_vendor.RateLimitError", "json.decoder.Missing"])
    assert set(sys.modules) == before


def _request() -> Any:  # typed Any: openai 3 annotates its own httpx fork; the exceptions only keep the object
    return httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")


def _response(status: int) -> Any:
    return httpx.Response(status, request=_request())


@pytest.mark.parametrize(
    "exc",
    [
        TimeoutError(),
        ConnectionResetError(),
        asyncio.TimeoutError(),  # noqa: UP041 - the alias is the point
        openai.RateLimitError("429", response=_response(429), body=None),
        openai.InternalServerError("500", response=_response(500), body=None),
        openai.APITimeoutError(request=_request()),
        openai.APIConnectionError(request=_request()),
        anthropic.RateLimitError("429", response=_response(429), body=None),
        anthropic.OverloadedError("529", response=_response(529), body=None),
        anthropic.InternalServerError("503", response=_response(503), body=None),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
    ],
    ids=lambda e: f"{type(e).__module__}.{type(e).__qualname__}",
)
def test_default_retry_on_covers_timeouts_connections_rate_limits_and_5xx(exc: Exception) -> None:
    """The real openai / anthropic / httpx errors for 429, 5xx, timeouts and lost connections are retried by default."""
    assert retryable(exc, DEFAULT_RETRY_ON)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError(),
        KeyError("k"),
        openai.BadRequestError("400", response=_response(400), body=None),
        openai.AuthenticationError("401", response=_response(401), body=None),
        anthropic.NotFoundError("404", response=_response(404), body=None),
    ],
    ids=lambda e: type(e).__qualname__,
)
def test_default_retry_on_leaves_client_errors_alone(exc: Exception) -> None:
    """Bad requests, auth and not-found errors are not retried by default (retrying cannot fix them)."""
    assert not retryable(exc, DEFAULT_RETRY_ON)


def test_openai_rate_limit_matches_its_public_name() -> None:
    """'openai.RateLimitError' matches the real class whatever module defines it."""
    assert error_matches(openai.RateLimitError("429", response=_response(429), body=None), ["openai.RateLimitError"])


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(1), asyncio.CancelledError(), GeneratorExit()])
def test_base_exceptions_are_never_retryable(exc: BaseException) -> None:
    """Cancellation, exit and interrupts are never retried, whatever retry_on says."""
    assert error_matches(exc, ["BaseException"])
    assert not retryable(exc, ["BaseException", type(exc).__name__])


def test_an_empty_list_matches_nothing() -> None:
    """retry_on = [] retries nothing."""
    assert not error_matches(TimeoutError(), [])


identifier = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s) and s not in {"builtins", "Exception", "BaseException", "object"}
)


@given(
    package=identifier,
    submodules=st.lists(identifier, max_size=2),
    base_name=identifier,
    leaf_name=identifier,
)
def test_property_every_name_of_every_class_in_the_mro_matches(
    package: str, submodules: list[str], base_name: str, leaf_name: str
) -> None:
    """For any module path and class pair, each bare/qualified/package name of the leaf or its base matches."""
    module = ".".join([package, *submodules])
    base = _vendor_error(module, base_name)
    leaf = _vendor_error(module, leaf_name, base)
    exc = leaf()
    for cls in (base, leaf):
        for name in (cls.__qualname__, f"{module}.{cls.__qualname__}", f"{package}.{cls.__qualname__}"):
            assert error_matches(exc, [name])


@given(module=identifier, base_name=identifier, leaf_name=identifier)
def test_property_a_base_instance_does_not_match_its_subclass_name(module: str, base_name: str, leaf_name: str) -> None:
    """A name that only the subclass carries never matches an instance of the base."""
    if leaf_name == base_name:
        return
    base = _vendor_error(f"{module}_pkg", base_name)
    leaf = _vendor_error(f"{module}_pkg", leaf_name, base)
    assert not error_matches(base(), [leaf.__qualname__, f"{module}_pkg.{leaf.__qualname__}"])
