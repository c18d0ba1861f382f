"""Exposure rules: which providers and models each data class may reach; default deny; internal by default."""

from __future__ import annotations

import pytest

from toolchain_sdk.errors import ConfigError
from toolchain_sdk.routing import (
    DATA_CLASSES,
    DEFAULT_DATA_CLASS,
    ToolchainConfig,
    check_exposure,
    get_route,
    parse_config,
    rule_allows,
)


@pytest.fixture
def config() -> ToolchainConfig:
    return parse_config(
        {
            "routes": {
                "answers": {
                    "targets": [
                        {"provider": "openai", "model": "gpt-4o-mini-2024-07-18", "attempts": 3},
                        {"provider": "anthropic", "model": "claude-3-5-haiku-20241022", "attempts": 2},
                    ]
                },
                "private": {
                    "targets": [
                        {"provider": "azure-openai", "model": "gpt-4o-2024-08-06"},
                        {"provider": "anthropic", "model": "claude-3-5-sonnet-20241022"},
                    ]
                },
            },
            "exposure": {
                "pii": ["azure-openai", "anthropic:claude-*"],
                "internal": ["azure-openai", "anthropic", "openai:gpt-4o-*"],
                "public": ["*"],
                "regulated": ["bedrock:anthropic.claude-*-v1:0"],
            },
        }
    )


def pairs(config: ToolchainConfig, route: str) -> list[tuple[str | None, str | None]]:
    return [(t.provider, t.model) for t in get_route(config, route).targets]


def test_allowed_targets_return_the_class_rules(config: ToolchainConfig) -> None:
    """Every target allowed: the class's rules come back, in file order, for the record."""
    rules = check_exposure(config, "support.reply", "pii", pairs(config, "private"))
    assert rules == ["azure-openai", "anthropic:claude-*"]


def test_public_reaches_anything(config: ToolchainConfig) -> None:
    """public = ["*"] allows any provider and model."""
    assert check_exposure(config, "site.faq", "public", [("some-vendor", "any-model")]) == ["*"]


def test_a_target_outside_the_rules_is_refused_by_name(config: ToolchainConfig) -> None:
    """A pii surface on a route through openai: ConfigError naming the surface, the class, the target and the rules."""
    with pytest.raises(ConfigError) as caught:
        check_exposure(config, "support.reply", "pii", pairs(config, "answers"))
    message = str(caught.value)
    assert message.startswith(
        "support.reply: data_class 'pii' may not reach openai:gpt-4o-mini-2024-07-18: "
        '[exposure] pii = ["azure-openai", "anthropic:claude-*"] in toolchain.toml.'
    )
    assert "anthropic:claude-3-5-haiku" not in message  # the allowed target is not blamed


def test_a_model_glob_limits_the_models_of_a_provider(config: ToolchainConfig) -> None:
    """'anthropic:claude-*' allows Claude models and nothing else of that provider."""
    check_exposure(config, "s", "pii", [("anthropic", "claude-3-5-haiku-20241022")])
    with pytest.raises(ConfigError, match="anthropic:other-model"):
        check_exposure(config, "s", "pii", [("anthropic", "other-model")])


def test_model_ids_with_colons_match(config: ToolchainConfig) -> None:
    """The model part is everything after the first ':' (Bedrock ids end in ':0')."""
    check_exposure(config, "s", "regulated", [("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0")])
    with pytest.raises(ConfigError):
        check_exposure(config, "s", "regulated", [("bedrock", "anthropic.claude-3-5-sonnet-20240620-v2:0")])


def test_a_class_not_listed_is_denied(config: ToolchainConfig) -> None:
    """With an [exposure] table, an unlisted class reaches nothing (default deny)."""
    with pytest.raises(ConfigError) as caught:
        check_exposure(config, "hr.summary", "confidential", [("azure-openai", "gpt-4o-2024-08-06")])
    message = str(caught.value)
    assert "hr.summary: data_class 'confidential' is not listed in [exposure] of toolchain.toml" in message
    assert "listed: pii, internal, public, regulated" in message and "may reach no provider" in message


def test_no_data_class_means_internal(config: ToolchainConfig) -> None:
    """A surface without data_class is checked as 'internal'."""
    assert DEFAULT_DATA_CLASS == "internal"
    assert check_exposure(config, "s", None, [("openai", "gpt-4o-2024-08-06")]) == [
        "azure-openai",
        "anthropic",
        "openai:gpt-4o-*",
    ]
    with pytest.raises(ConfigError, match="data_class 'internal' may not reach mistral:large"):
        check_exposure(config, "s", None, [("mistral", "large")])


def test_no_data_class_when_internal_is_not_listed() -> None:
    """If [exposure] has no 'internal', a surface without data_class is denied, and told why."""
    config = parse_config({"exposure": {"public": ["*"]}})
    with pytest.raises(ConfigError, match="a surface without data_class is 'internal'"):
        check_exposure(config, "s", None, [("openai", "gpt-4o")])


def test_classes_defined_by_the_config_are_accepted(config: ToolchainConfig) -> None:
    """A class named only in [exposure] ('regulated') is a valid data_class."""
    assert check_exposure(config, "s", "regulated", [("bedrock", "anthropic.claude-3-haiku-20240307-v1:0")])


def test_an_undeclared_provider_only_passes_a_star_rule(config: ToolchainConfig) -> None:
    """A surface that declares no provider (None) can only carry a class that allows '*'."""
    assert check_exposure(config, "s", "public", [(None, None)]) == ["*"]
    with pytest.raises(ConfigError, match="an undeclared provider and model"):
        check_exposure(config, "s", "pii", [(None, None)])
    with pytest.raises(ConfigError, match="an undeclared provider and model"):
        check_exposure(config, "s", "pii", [])


def test_a_provider_without_model_fails_a_model_rule(config: ToolchainConfig) -> None:
    """provider='anthropic' with no model: 'anthropic:claude-*' cannot vouch for it."""
    with pytest.raises(ConfigError, match=r"anthropic \(no model declared\)"):
        check_exposure(config, "s", "pii", [("anthropic", None)])
    check_exposure(config, "s", "pii", [("azure-openai", None)])  # a provider-only rule allows any model


def test_without_an_exposure_table_nothing_is_checked() -> None:
    """No [exposure] (or no file): built-in classes pass with no rules; unknown classes are errors."""
    empty = parse_config({})
    for data_class in (*DATA_CLASSES, None):
        assert check_exposure(empty, "s", data_class, [("openai", "gpt-4o")]) == []
        assert check_exposure(None, "s", data_class, [("openai", "gpt-4o")]) == []
    with pytest.raises(ConfigError, match=r"s: unknown data_class 'secret'.*toolchain\.toml has no \[exposure\] table"):
        check_exposure(empty, "s", "secret", [])
    with pytest.raises(ConfigError, match=r"unknown data_class 'secret'.*no toolchain\.toml was found"):
        check_exposure(None, "s", "secret", [])


def test_pyproject_configs_name_their_table() -> None:
    """Messages name [tool.toolchain.exposure] when the config came from pyproject.toml."""
    config = parse_config({"exposure": {"pii": ["azure-openai"]}})
    config._prefix = "tool.toolchain."
    with pytest.raises(ConfigError, match=r"\[tool.toolchain.exposure\] pii"):
        check_exposure(config, "s", "pii", [("openai", "gpt-4o")])


@pytest.mark.parametrize(
    ("rule", "provider", "model", "allowed"),
    [
        ("azure-openai", "azure-openai", "gpt-4o", True),
        ("azure-openai", "openai", "gpt-4o", False),
        ("azure-*", "azure-openai", "x", True),
        ("anthropic:claude-*", "anthropic", "claude-3-5-haiku-20241022", True),
        ("anthropic:claude-*", "anthropic", "gpt-4o", False),
        ("*", None, None, True),
        ("*:*", "p", None, True),
        ("openai", "OpenAI", "gpt-4o", False),  # case-sensitive
        ("bedrock:*-v1:0", "bedrock", "anthropic.claude-v1:0", True),
    ],
)
def test_rule_allows(rule: str, provider: str | None, model: str | None, allowed: bool) -> None:
    """Provider and model globs (fnmatch, case-sensitive); the model part follows the first ':'."""
    assert rule_allows(rule, provider, model) is allowed
