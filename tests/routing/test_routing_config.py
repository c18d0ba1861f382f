"""toolchain.toml: validation messages that name file, table and field; discovery order; get_route."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from toolchain_sdk.errors import ConfigError
from toolchain_sdk.routing import (
    DEFAULT_RETRY_ON,
    TOOLCHAIN_CONFIG,
    Backoff,
    get_route,
    load_config,
    parse_config,
    read_config,
)

EXAMPLE = """
[routes.answers]
retry_on = ["TimeoutError", "ConnectionError", "openai.RateLimitError"]
backoff = { initial_s = 0.5, max_s = 8.0, multiplier = 2.0, jitter = true }
[[routes.answers.targets]]
provider = "openai"
model = "gpt-4o-mini-2024-07-18"
attempts = 3
params = { temperature = 0.2 }
[[routes.answers.targets]]
provider = "anthropic"
model = "claude-3-5-haiku-20241022"
attempts = 2

[exposure]
pii = ["azure-openai", "anthropic:claude-*"]
public = ["*"]

[policy]
require_owner = true

[prompts]
dir = "prompts"

[audit]
sink = "jsonl:.toolchain/audit.jsonl"

[flags]
file = ".toolchain/flags.json"
"""


@pytest.fixture(autouse=True)
def _no_config_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test starts in an empty directory without TOOLCHAIN_CONFIG."""
    monkeypatch.delenv(TOOLCHAIN_CONFIG, raising=False)
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(text: str, name: str = "toolchain.toml") -> list[str]:
    """The problems read_config reports for ``text`` written to ``./name``."""
    write(Path(name), text)
    config, found = read_config()
    assert config is None
    return found


# --- the file -------------------------------------------------------------------------------------


def test_the_documented_example_loads() -> None:
    """The example of docs/routing.md validates, with every table kept."""
    write(Path("toolchain.toml"), EXAMPLE)
    config = load_config()
    assert config is not None and config.source == "toolchain.toml"
    route = config.routes["answers"]
    assert route.name == "answers"
    assert route.retry_on == ("TimeoutError", "ConnectionError", "openai.RateLimitError")
    assert route.backoff == Backoff(initial_s=0.5, max_s=8.0, multiplier=2.0, jitter=True)
    assert [(t.provider, t.model, t.attempts) for t in route.targets] == [
        ("openai", "gpt-4o-mini-2024-07-18", 3),
        ("anthropic", "claude-3-5-haiku-20241022", 2),
    ]
    assert route.targets[0].params == {"temperature": 0.2}
    assert config.exposure == {"pii": ("azure-openai", "anthropic:claude-*"), "public": ("*",)}
    assert config.policy == {"require_owner": True}
    assert config.prompts.dir == "prompts"
    assert config.audit == {"sink": "jsonl:.toolchain/audit.jsonl"}
    assert config.flags == {"file": ".toolchain/flags.json"}


def test_defaults_of_a_minimal_route() -> None:
    """A route that names only its targets retries the default errors with the default back-off, once per target."""
    config = parse_config({"routes": {"r": {"targets": [{"provider": "openai", "model": "gpt-4o-2024-08-06"}]}}})
    route = config.routes["r"]
    assert route.retry_on == DEFAULT_RETRY_ON
    assert route.backoff == Backoff(initial_s=0.5, max_s=8.0, multiplier=2.0, jitter=True)
    assert route.targets[0].attempts == 1 and route.targets[0].params == {}
    assert config.exposure is None


def test_an_empty_file_is_a_valid_configuration() -> None:
    """An empty toolchain.toml has no routes and no exposure table."""
    write(Path("toolchain.toml"), "")
    config = load_config()
    assert config is not None and config.routes == {} and config.exposure is None


def test_the_configuration_is_frozen() -> None:
    """Loaded values cannot be changed by accident."""
    config = parse_config({"routes": {"r": {"targets": [{"provider": "p", "model": "m"}]}}})
    with pytest.raises(ValidationError):
        config.routes["r"].targets[0].attempts = 5


# --- messages name the file, the table and the field --------------------------------------------


def test_the_attempts_message_names_file_table_index_and_field() -> None:
    """attempts = 0 on the second target: the documented message, exactly."""
    text = EXAMPLE.replace("attempts = 2", "attempts = 0")
    assert problems(text) == [
        "toolchain.toml: [routes.answers.targets][1].attempts: Input should be greater than or equal to 1"
    ]


def test_load_config_raises_config_error_with_every_problem() -> None:
    """load_config raises ConfigError whose message has one line per problem."""
    write(
        Path("toolchain.toml"),
        """
        [routes.answers]
        retires = 2
        [[routes.answers.targets]]
        provider = "openai"
        model = ""
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert sorted(str(caught.value).splitlines()) == [
        "toolchain.toml: [routes.answers.targets][0].model: String should have at least 1 character",
        "toolchain.toml: [routes.answers].retires: Extra inputs are not permitted",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[rootes.a]\n", "toolchain.toml: [rootes]: Extra inputs are not permitted"),
        ("colour = 1\n", "toolchain.toml: colour: Extra inputs are not permitted"),
        ("[routes.a]\nretry_on = []\n", "toolchain.toml: [routes.a].targets: Field required"),
        (
            "[routes.a]\ntargets = []\n",
            "toolchain.toml: [routes.a].targets: a route needs at least one target ([[routes.NAME.targets]] with "
            "provider and model)",
        ),
        (
            "[routes.a.targets]\nprovider = 'p'\nmodel = 'm'\n",
            "toolchain.toml: [routes.a.targets]: Input should be an array",
        ),
        ("routes = 3\n", "toolchain.toml: routes: Input should be a table"),
        (
            "[routes.a]\nretry_on = ['TimeoutError', 'openai RateLimitError']\n"
            "[[routes.a.targets]]\nprovider='p'\nmodel='m'\n",
            "toolchain.toml: [routes.a].retry_on[1]: 'openai RateLimitError' is not an exception class name; write a "
            "bare or dotted name such as 'TimeoutError' or 'openai.RateLimitError'",
        ),
        (
            "[routes.a]\nbackoff = { initial_s = 2.0, max_s = 1.0 }\n[[routes.a.targets]]\nprovider='p'\nmodel='m'\n",
            "toolchain.toml: [routes.a.backoff]: max_s (1.0) must be at least initial_s (2.0)",
        ),
        (
            "[routes.a]\nbackoff = { multiplier = 0.5 }\n[[routes.a.targets]]\nprovider='p'\nmodel='m'\n",
            "toolchain.toml: [routes.a.backoff].multiplier: Input should be greater than or equal to 1",
        ),
        (
            "[[routes.a.targets]]\nprovider='p'\nmodel='m'\nattempts = '3'\n",
            "toolchain.toml: [routes.a.targets][0].attempts: Input should be a valid integer",
        ),
        (
            "[routes.a]\nbackoff = { jitter = 'yes' }\n[[routes.a.targets]]\nprovider='p'\nmodel='m'\n",
            "toolchain.toml: [routes.a.backoff].jitter: Input should be a valid boolean",
        ),
        (
            "[[routes.a.targets]]\nprovider='p'\nmodel='m'\ncolour = 'red'\n",
            "toolchain.toml: [routes.a.targets][0].colour: Extra inputs are not permitted",
        ),
        (
            "[routes.a]\nname = 'b'\n[[routes.a.targets]]\nprovider='p'\nmodel='m'\n",
            "toolchain.toml: [routes]: [routes.a] takes its name from the table header: remove its 'name' key",
        ),
        (
            "[[routes.'answers v2'.targets]]\nprovider='p'\nmodel='m'\n",
            "toolchain.toml: [routes.\"answers v2\"].name: route name 'answers v2' must be letters, digits, '_', '.', "
            "':' or '-'",
        ),
        (
            "[exposure]\npii = ['azure-openai', 'anthropic:']\n",
            "toolchain.toml: [exposure].pii[1]: 'anthropic:' is not an exposure rule; write 'PROVIDER' or "
            "'PROVIDER:MODEL', each a name or a glob (e.g. 'azure-openai', 'anthropic:claude-*', '*')",
        ),
        ("[exposure]\npii = 'azure-openai'\n", "toolchain.toml: [exposure].pii: Input should be an array"),
        ("[prompts]\ndri = 'prompts'\n", "toolchain.toml: [prompts].dri: Extra inputs are not permitted"),
    ],
)
def test_each_problem_names_the_table_and_field(text: str, expected: str) -> None:
    """Unknown keys, missing and empty targets, wrong types, bad names and rules: file, table, field, reason."""
    assert problems(text) == [expected]


def test_pyproject_problems_name_the_tool_toolchain_table() -> None:
    """In pyproject.toml the tables are written [tool.toolchain.…]."""
    found = problems(
        """
        [project]
        name = "app"
        [[tool.toolchain.routes.answers.targets]]
        provider = "openai"
        model = "gpt-4o-mini-2024-07-18"
        attempts = 0
        """,
        name="pyproject.toml",
    )
    assert found == [
        "pyproject.toml: [tool.toolchain.routes.answers.targets][0].attempts: Input should be greater than or "
        "equal to 1"
    ]


def test_invalid_toml_names_the_file() -> None:
    """A syntax error is reported with the file and the line."""
    found = problems("[routes.answers\n")
    assert len(found) == 1 and found[0].startswith("toolchain.toml: not valid TOML: ") and "line 1" in found[0]


def test_an_explicit_path_is_named_as_given(tmp_path: Path) -> None:
    """A file given by path is named by that path in messages and as the config's source."""
    (tmp_path / "conf").mkdir()
    path = write(tmp_path / "conf" / "routing.toml", "[[routes.a.targets]]\nprovider='p'\nmodel='m'\nattempts=0\n")
    config, found = read_config(path)
    assert config is None
    assert found == [f"{path}: [routes.a.targets][0].attempts: Input should be greater than or equal to 1"]
    path.write_text("[[routes.a.targets]]\nprovider='p'\nmodel='m'\n", encoding="utf-8")
    loaded = load_config(str(path))
    assert loaded is not None and loaded.source == str(path)


# --- discovery: explicit, TOOLCHAIN_CONFIG, ./toolchain.toml, ./pyproject.toml [tool.toolchain] ----


def _route_file(path: Path, route: str, *, pyproject: bool = False) -> Path:
    prefix = "tool.toolchain." if pyproject else ""
    return write(path, f"[[{prefix}routes.{route}.targets]]\nprovider = 'p'\nmodel = 'm-2024-01-01'\n")


def _found_route(path: str | Path | None = None) -> str | None:
    config = load_config(path)
    return None if config is None else next(iter(config.routes))


def test_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Explicit path, then TOOLCHAIN_CONFIG, then ./toolchain.toml, then [tool.toolchain] of ./pyproject.toml."""
    assert _found_route() is None  # nothing anywhere
    _route_file(tmp_path / "pyproject.toml", "from_pyproject", pyproject=True)
    assert _found_route() == "from_pyproject"
    _route_file(tmp_path / "toolchain.toml", "from_local")
    assert _found_route() == "from_local"
    env_file = _route_file(tmp_path / "env.toml", "from_env")
    monkeypatch.setenv(TOOLCHAIN_CONFIG, str(env_file))
    assert _found_route() == "from_env"
    explicit = _route_file(tmp_path / "explicit.toml", "from_explicit")
    assert _found_route(explicit) == "from_explicit"


def test_sources_are_named_by_where_they_were_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """source is the bare file name when found in the working directory, else the path as given."""
    _route_file(tmp_path / "pyproject.toml", "r", pyproject=True)
    config = load_config()
    assert config is not None and config.source == "pyproject.toml"
    assert config.table("exposure") == "[tool.toolchain.exposure]"
    env_file = _route_file(tmp_path / "env.toml", "r")
    monkeypatch.setenv(TOOLCHAIN_CONFIG, str(env_file))
    config = load_config()
    assert config is not None and config.source == str(env_file) and config.table("exposure") == "[exposure]"


def test_a_pyproject_without_tool_toolchain_is_no_configuration(tmp_path: Path) -> None:
    """A project's pyproject.toml that has no [tool.toolchain] table means: no configuration."""
    write(tmp_path / "pyproject.toml", "[project]\nname = 'app'\n[tool.ruff]\nline-length = 100\n")
    assert load_config() is None


def test_an_explicit_pyproject_is_read_through_its_table(tmp_path: Path) -> None:
    """configure(config='pyproject.toml') reads [tool.toolchain]; a given pyproject without it is an error."""
    other = tmp_path / "other"
    other.mkdir()
    pyproject = _route_file(other / "pyproject.toml", "r", pyproject=True)
    assert _found_route(pyproject) == "r"
    write(pyproject, "[project]\nname = 'app'\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml: has no \[tool.toolchain\] table"):
        load_config(pyproject)


def test_tool_toolchain_must_be_a_table(tmp_path: Path) -> None:
    """[tool] toolchain = 3 is reported, not ignored."""
    write(tmp_path / "pyproject.toml", "[tool]\ntoolchain = 3\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml: \[tool.toolchain\] must be a table"):
        load_config()


def test_a_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    """A path that is given must exist (no silent fallback to discovery)."""
    _route_file(tmp_path / "toolchain.toml", "local")
    with pytest.raises(ConfigError, match=r"nope\.toml: no such configuration file"):
        load_config(tmp_path / "nope.toml")


def test_a_missing_env_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TOOLCHAIN_CONFIG naming a missing file is a ConfigError naming the variable."""
    _route_file(tmp_path / "toolchain.toml", "local")
    monkeypatch.setenv(TOOLCHAIN_CONFIG, str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match=f"gone.toml: no such configuration file \\(named by {TOOLCHAIN_CONFIG}\\)"):
        load_config()


def test_an_empty_env_var_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TOOLCHAIN_CONFIG= (empty) is as if unset."""
    _route_file(tmp_path / "toolchain.toml", "local")
    monkeypatch.setenv(TOOLCHAIN_CONFIG, "")
    assert _found_route() == "local"


def test_a_directory_is_not_a_configuration_file(tmp_path: Path) -> None:
    """A directory given as the path is refused."""
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path)


# --- get_route ----------------------------------------------------------------------------------


def test_get_route_returns_the_named_route() -> None:
    """get_route finds [routes.NAME]."""
    write(Path("toolchain.toml"), EXAMPLE)
    config = load_config()
    assert get_route(config, "answers") is config.routes["answers"]  # type: ignore[union-attr]


def test_an_unknown_route_lists_the_known_ones() -> None:
    """An unknown name is a ConfigError naming the file and every route it has."""
    config = parse_config(
        {
            "routes": {
                "answers": {"targets": [{"provider": "p", "model": "m"}]},
                "summaries": {"targets": [{"provider": "p", "model": "m"}]},
            }
        }
    )
    with pytest.raises(ConfigError) as caught:
        get_route(config, "answer")
    assert str(caught.value) == (
        "route 'answer' is not defined in toolchain.toml (routes: answers, summaries); "
        "add [routes.answer] or fix the name"
    )


def test_a_route_without_any_configuration_says_where_it_looked() -> None:
    """With no file at all, get_route says which places were searched."""
    with pytest.raises(ConfigError, match=r"route 'answers': no configuration file was found .*TOOLCHAIN_CONFIG"):
        get_route(None, "answers")


def test_parse_config_raises_with_the_given_source() -> None:
    """parse_config validates a dict and names the given source in its messages."""
    with pytest.raises(ConfigError, match=r"^inline: \[routes.a\].targets: Field required$"):
        parse_config({"routes": {"a": {}}}, source="inline")
