"""The region settings use is the one boto3 would use: checked against boto3 itself on
temporary AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE files."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ProfileNotFound
from serverless_testbed.aws_profile import profile_region
from serverless_testbed.errors import BadInput
from serverless_testbed.settings import DEFAULT_REGION, Settings

CASES = [
    # (config file, credentials file, variables, the region boto3 uses)
    ("[default]\nregion = eu-west-1\n", "", {}, "eu-west-1"),
    ("[profile default]\nregion = eu-north-1\n", "", {}, "eu-north-1"),
    ("[default]\nregion = eu-west-1\n[profile dev]\nregion = ap-south-1\n", "", {"AWS_PROFILE": "dev"}, "ap-south-1"),
    (
        "[profile a]\nregion = us-west-1\n[profile b]\nregion = us-west-2\n",
        "",
        {"AWS_DEFAULT_PROFILE": "a", "AWS_PROFILE": "b"},
        "us-west-1",
    ),  # botocore reads AWS_DEFAULT_PROFILE first
    ("[default]\nregion = eu-west-1\n", "[default]\nregion = eu-west-3\n", {}, "eu-west-3"),  # credentials file wins
    ("[default]\nregion = eu-west-1\n", "", {"AWS_DEFAULT_REGION": "ca-central-1"}, "ca-central-1"),
    ("[default]\ns3 =\n  addressing_style = path\n", "", {}, None),
    ("", "", {}, None),
]


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    for key in list(os.environ):
        if key.startswith(("AWS_", "TESTBED_")) and key != "AWS_CA_BUNDLE":
            monkeypatch.delenv(key)
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    return config, credentials


@pytest.mark.parametrize(("config_text", "credentials_text", "variables", "expected"), CASES)
def test_the_region_is_the_one_boto3_uses(
    files: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    config_text: str,
    credentials_text: str,
    variables: dict[str, str],
    expected: str | None,
):
    files[0].write_text(config_text)
    files[1].write_text(credentials_text)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert boto3.Session().region_name == expected  # the case says what boto3 does
    assert Settings.from_env().region == (expected or DEFAULT_REGION)


def test_aws_region_still_beats_the_profile(files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch):
    files[0].write_text("[default]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    assert Settings.from_env().region == "sa-east-1"


def test_a_given_environment_without_home_reads_no_default_file(tmp_path: Path):
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text("[default]\nregion = eu-west-2\n")
    assert profile_region({}) is None
    assert profile_region({"HOME": str(tmp_path)}) == "eu-west-2"
    assert Settings.from_env({}).region == DEFAULT_REGION


def test_a_config_file_that_cannot_be_parsed_is_bad_input(files: tuple[Path, Path]):
    files[0].write_text("region = eu-west-1\n")  # no section header
    with pytest.raises(BadInput, match="cannot be read"):
        Settings.from_env()


def test_a_bare_section_is_not_a_profile(files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch):
    files[0].write_text("[dev]\nregion = eu-west-1\n")  # in the config file a profile is [profile dev]
    monkeypatch.setenv("AWS_PROFILE", "dev")
    with pytest.raises(ProfileNotFound):
        boto3.Session()
    assert Settings.from_env().region == DEFAULT_REGION  # the guard or boto3 names the missing profile later
