"""Settings: one switch for the target, read once; an explicit argument beats the env."""

from __future__ import annotations

import pytest

from infra.settings import (
    DEFAULT_REGION,
    EMULATOR_TARGETS,
    LOCALSTACK_IMAGE,
    TARGETS,
    Settings,
)


def test_from_an_empty_environment_gives_the_embedded_defaults():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.target == "embedded"
    assert settings.region == DEFAULT_REGION
    assert settings.endpoint_url is None
    assert settings.prefix == "tb"
    assert settings.account_id is None
    assert settings.image == LOCALSTACK_IMAGE == "localstack/localstack:4.14.0"


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
