"""Settings: one switch for the target, read once; an explicit argument beats the env."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import tomllib
from pathlib import Path
from typing import get_args

import pytest
from serverless_testbed.errors import BadInput, TestbedError
from serverless_testbed.settings import (
    DEFAULT_REGION,
    EMULATOR_TARGETS,
    LOCALSTACK_IMAGE,
    LOCALSTACK_VERSION,
    TARGETS,
    Settings,
    Target,
)

ROOT = Path(__file__).resolve().parents[2]


def test_from_an_empty_environment_gives_the_embedded_defaults():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.target == "embedded"
    assert settings.region == DEFAULT_REGION
    assert settings.endpoint_url is None
    assert settings.prefix == "tb"
    assert settings.account_id is None
    assert settings.image == LOCALSTACK_IMAGE


def test_from_env_reads_every_variable():
    settings = Settings.from_env(
        {
            "TESTBED_TARGET": "endpoint",
            "AWS_REGION": "eu-west-1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4599",
            "TESTBED_PREFIX": "ci",
            "TESTBED_ACCOUNT_ID": "123456789012",
            "TESTBED_IMAGE": "localstack/localstack:4.15.0",
        }
    )
    assert settings == Settings(
        target="endpoint",
        region="eu-west-1",
        endpoint_url="http://127.0.0.1:4599",
        prefix="ci",
        account_id="123456789012",
        image="localstack/localstack:4.15.0",
    )


def test_aws_region_beats_aws_default_region():
    env = {"AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "us-west-2"}
    assert Settings.from_env(env).region == "eu-central-1"
    assert Settings.from_env({"AWS_DEFAULT_REGION": "us-west-2"}).region == "us-west-2"


def test_empty_variables_count_as_unset():
    env = {"TESTBED_TARGET": "", "AWS_REGION": "", "AWS_ENDPOINT_URL": "", "TESTBED_PREFIX": ""}
    assert Settings.from_env(env) == Settings()


def test_an_explicit_argument_beats_the_environment():
    env = {"TESTBED_TARGET": "compose", "AWS_REGION": "eu-west-1", "TESTBED_PREFIX": "env"}
    settings = Settings.from_env(env, target="endpoint", prefix="arg")
    assert settings.target == "endpoint"
    assert settings.prefix == "arg"
    assert settings.region == "eu-west-1"


def test_a_none_argument_leaves_the_environment_in_charge():
    settings = Settings.from_env({"TESTBED_TARGET": "compose"}, target=None, endpoint_url=None)
    assert settings.target == "compose"


def test_from_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TESTBED_TARGET", "endpoint")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    settings = Settings.from_env()
    assert (settings.target, settings.endpoint_url) == ("endpoint", "http://localhost:4566")


@pytest.mark.parametrize("target", ["", "local", "EMBEDDED", "docker"])
def test_an_unknown_target_is_refused_with_the_choices(target: str):
    with pytest.raises(ValueError, match="unknown target") as raised:
        Settings(target=target)
    for choice in TARGETS:
        assert choice in str(raised.value)


def test_an_unknown_target_from_the_environment_is_refused():
    with pytest.raises(ValueError, match="'lcoal'"):
        Settings.from_env({"TESTBED_TARGET": "lcoal"})


@pytest.mark.parametrize("target", TARGETS)
def test_only_aws_is_not_an_emulator(target: str):
    assert Settings(target=target).is_emulator == (target in EMULATOR_TARGETS)
    assert Settings(target=target).is_emulator == (target != "aws")


def test_with_endpoint_returns_a_new_settings_object():
    settings = Settings(target="endpoint", prefix="x")
    moved = settings.with_endpoint("http://127.0.0.1:1234")
    assert moved.endpoint_url == "http://127.0.0.1:1234"
    assert moved.prefix == "x"
    assert settings.endpoint_url is None


def test_settings_are_frozen():
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.target = "aws"  # type: ignore[misc]


def test_an_unknown_target_is_a_testbed_error_the_cli_reports_as_usage():
    with pytest.raises(BadInput) as raised:
        Settings(target="docker")
    assert isinstance(raised.value, TestbedError)
    assert raised.value.exit_code == 2


def test_settings_hold_only_what_is_read():
    assert [field.name for field in dataclasses.fields(Settings)] == [
        "target",
        "region",
        "endpoint_url",
        "prefix",
        "account_id",
        "image",
    ]


def test_targets_are_the_target_type_s_values():
    assert TARGETS == get_args(Target) == ("embedded", "compose", "container", "endpoint", "aws")


def test_the_localstack_version_is_one_constant_that_the_pin_and_the_image_agree_with():
    from serverless_testbed.engine.venv import requirements

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert not [dep for dep in pyproject["project"]["dependencies"] if dep.startswith("localstack")], (
        "LocalStack is the engine's, never the project's: pyproject's dependencies must not hold it"
    )
    pins = [dep for dep in requirements() if dep.startswith("localstack-core")]
    assert pins == [f"localstack-core[runtime]=={LOCALSTACK_VERSION}"]
    assert importlib.metadata.version("localstack-core") == LOCALSTACK_VERSION
    assert f"localstack/localstack:{LOCALSTACK_VERSION}" == LOCALSTACK_IMAGE


def test_no_python_module_writes_the_version_but_settings():
    written = [
        str(path.relative_to(ROOT))
        for folder in ("infra", "fixtures", "src")
        for path in (ROOT / folder).rglob("*.py")
        if any(
            LOCALSTACK_VERSION in line and not line.lstrip().startswith("#") for line in _code_lines(path.read_text())
        )
    ]
    expected = ["infra/serverless_testbed/settings.py"]
    assert written == expected, f"the version is written outside {expected[0]}: {written}"


def _code_lines(source: str) -> list[str]:
    """The lines of `source` outside docstrings and comments (strings in code count)."""
    import ast
    import io
    import tokenize

    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    lines: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE) or token.start[0] in docstrings:
            continue
        lines[token.start[0]] = lines.get(token.start[0], "") + " " + token.string
    return list(lines.values())


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, ("tb", DEFAULT_REGION, None)),
        ([], {"TESTBED_PREFIX": "ci", "AWS_REGION": "eu-west-1"}, ("ci", "eu-west-1", None)),
        ([], {"TESTBED_PREFIX": "", "AWS_DEFAULT_REGION": "us-west-2"}, ("tb", "us-west-2", None)),
        (["--prefix", "arg"], {"TESTBED_PREFIX": "env"}, ("arg", DEFAULT_REGION, None)),
        ([], {"AWS_ENDPOINT_URL": "http://localhost:4566"}, ("tb", DEFAULT_REGION, "http://localhost:4566")),
    ],
)
def test_python_m_infra_deploy_reads_its_settings_like_the_cli(
    argv: list[str], env: dict[str, str], expected: tuple[str, str, str | None]
):
    from serverless_testbed.deploy import parse

    _, settings = parse(argv, env)
    assert (settings.prefix, settings.region, settings.endpoint_url) == expected
    assert settings == Settings.from_env(env, prefix=(argv[1] if argv else None))
