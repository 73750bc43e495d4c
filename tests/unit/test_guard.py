"""The guard that keeps `--target aws` away from emulators and emulators off real AWS.

Every session here is a real boto3 session reading temporary AWS_CONFIG_FILE and
AWS_SHARED_CREDENTIALS_FILE files, as a user's would; only its STS client answers from
a botocore Stubber, so nothing leaves the process. Each endpoint the guard refuses is
also checked against botocore itself: a client made from the same files really goes there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from serverless_testbed import deploy
from serverless_testbed.cli import app
from serverless_testbed.errors import TargetRefused
from serverless_testbed.guard import (
    DUMMY_KEYS,
    check_aws_target,
    configured_endpoints,
    emulator_endpoint,
    is_aws_endpoint,
)
from typer.testing import CliRunner

REAL_KEY = "AKIAIOSFODNN7EXAMPLE"
ACCOUNT = "123456789012"
EMULATOR = "http://localhost:4566"
# The services the deployer and the runners make clients for.
SERVICES = ("sts", "iam", "dynamodb", "s3", "sqs", "sns", "kinesis", "lambda", "stepfunctions", "events", "apigateway")


class StubbedSession(boto3.Session):
    """A real boto3 session (the files and variables as botocore reads them) whose STS
    client, made by botocore like any other, answers from a Stubber."""

    def __init__(self, account: str | None = ACCOUNT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sts: Any = None
        self.stubber: Stubber | None = None
        self.account = account

    def client(self, *args: Any, **kwargs: Any) -> Any:
        name = args[0] if args else kwargs["service_name"]
        assert name == "sts", f"the guard should only call STS, not {name}"
        if self.sts is None:
            self.sts = super().client(*args, **kwargs)
            self.stubber = Stubber(self.sts)
            if self.account is not None:
                identity = {"Account": self.account, "Arn": f"arn:aws:iam::{self.account}:user/me", "UserId": "AIDA1"}
                self.stubber.add_response("get_caller_identity", identity)
            self.stubber.activate()
        return self.sts


@pytest.fixture
def aws_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """A clean AWS environment pointing at temporary files; call it to write them."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "TESTBED_")) and key != "AWS_CA_BUNDLE":
            monkeypatch.delenv(key)
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no credential lookup leaves the machine

    def write(config_text: str = "[default]\nregion = eu-west-1\n", credentials_text: str | None = None) -> None:
        config.write_text(config_text)
        credentials.write_text(
            credentials_text
            if credentials_text is not None
            else f"[default]\naws_access_key_id = {REAL_KEY}\naws_secret_access_key = secret\n"
            f"[prod]\naws_access_key_id = {REAL_KEY}\naws_secret_access_key = secret\n"
        )

    write()
    return write


def botocore_endpoint(service: str) -> str:
    """Where botocore itself sends `service`'s calls with the current files and variables."""
    return str(boto3.Session().client(service).meta.endpoint_url)  # type: ignore[call-overload]


def refused(session: Any | None = None, account: str | None = ACCOUNT) -> str:
    session = session or StubbedSession(account=None)  # any STS call would fail the stubber
    with pytest.raises(TargetRefused) as raised:
        check_aws_target(session, os.environ, account)
    return str(raised.value)


# --- what passes --------------------------------------------------------------------------


def test_real_credentials_and_the_right_account_pass(aws_files: Callable[..., None]):
    session = StubbedSession()
    assert check_aws_target(session, os.environ, ACCOUNT) == ACCOUNT
    assert session.stubber is not None
    session.stubber.assert_no_pending_responses()
    assert session.sts.meta.endpoint_url == "https://sts.eu-west-1.amazonaws.com"


def test_unrelated_aws_variables_and_inactive_profiles_do_not_trip_the_endpoint_check(
    aws_files: Callable[..., None], monkeypatch: pytest.MonkeyPatch
):
    aws_files(f"[default]\nregion = eu-west-1\n[profile local]\nendpoint_url = {EMULATOR}\n")
    for name, value in {"AWS_PROFILE": "prod", "AWS_REGION": "eu-west-1", "AWS_RETRY_MODE": "standard"}.items():
        monkeypatch.setenv(name, value)
    assert configured_endpoints(boto3.Session(), os.environ) == []
    assert check_aws_target(StubbedSession(), os.environ, ACCOUNT) == ACCOUNT


@pytest.mark.parametrize(
    "url",
    [
        "https://sts.eu-west-1.amazonaws.com",
        "https://sts-fips.us-east-1.amazonaws.com",
        "https://sts.eu-west-1.api.aws",
    ],
)
def test_an_endpoint_of_aws_itself_passes(aws_files: Callable[..., None], url: str):
    aws_files(f"[default]\nregion = eu-west-1\nendpoint_url = {url}\n")
    session = StubbedSession()
    assert check_aws_target(session, os.environ, ACCOUNT) == ACCOUNT
    assert session.sts.meta.endpoint_url == url


# --- endpoints set in the environment -------------------------------------------------------


@pytest.mark.parametrize(
    "variables",
    [
        {"AWS_ENDPOINT_URL": EMULATOR},
        {"AWS_ENDPOINT_URL_S3": EMULATOR},
        {"AWS_ENDPOINT_URL_SFN": "http://x", "AWS_ENDPOINT_URL": "http://y"},
    ],
)
def test_any_endpoint_variable_is_refused_before_calling_aws(
    aws_files: Callable[..., None], monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    message = refused()
    assert "refuses to run while" in message
    for name in variables:
        assert name in message
    assert "unset AWS_ENDPOINT_URL" in message


# --- endpoints set in the config files -------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "profile", "service"),
    [
        (f"[default]\nregion = eu-west-1\nendpoint_url = {EMULATOR}\n", None, "s3"),
        (f"[default]\n[profile prod]\nregion = eu-west-1\nendpoint_url = {EMULATOR}\n", "prod", "dynamodb"),
        (f"[profile default]\nregion = eu-west-1\nendpoint_url = {EMULATOR}\n", None, "sqs"),
    ],
    ids=["default-profile", "named-profile", "profile-default-section"],
)
def test_an_endpoint_url_in_the_active_profile_is_refused(
    aws_files: Callable[..., None], monkeypatch: pytest.MonkeyPatch, config: str, profile: str | None, service: str
):
    aws_files(config)
    if profile:
        monkeypatch.setenv("AWS_PROFILE", profile)
    assert botocore_endpoint(service) == EMULATOR  # where botocore would really send the calls
    message = refused()
    assert "refuses a configured endpoint that is not AWS" in message
    assert f"{EMULATOR} (endpoint_url of profile '{profile or 'default'}'" in message
    assert os.environ["AWS_CONFIG_FILE"] in message


def test_a_services_section_of_the_active_profile_is_refused_naming_each_service(
    aws_files: Callable[..., None], monkeypatch: pytest.MonkeyPatch
):
    aws_files(
        "[profile dev]\nregion = eu-west-1\nservices = local\n"
        "[services local]\n"
        f"s3 =\n  endpoint_url = {EMULATOR}\n"
        "sfn =\n  endpoint_url = http://127.0.0.1:8083\n"  # the key is the service id: Step Functions' is sfn
        "sts =\n  endpoint_url = https://sts.eu-west-1.amazonaws.com\n",
        f"[dev]\naws_access_key_id = {REAL_KEY}\naws_secret_access_key = secret\n",
    )
    monkeypatch.setenv("AWS_PROFILE", "dev")
    assert botocore_endpoint("s3") == EMULATOR
    assert botocore_endpoint("stepfunctions") == "http://127.0.0.1:8083"
    message = refused()
    assert f"{EMULATOR} (s3 endpoint_url of [services local]" in message
    assert "http://127.0.0.1:8083 (sfn endpoint_url of [services local]" in message
    assert "sts.eu-west-1.amazonaws.com" not in message  # AWS's own endpoint is not a reason


def test_a_services_section_the_file_lacks_is_refused(aws_files: Callable[..., None]):
    aws_files("[default]\nregion = eu-west-1\nservices = gone\n")
    message = refused()
    assert "names the services section 'gone', which the config file lacks" in message


def test_an_endpoint_in_the_credentials_file_counts_too(aws_files: Callable[..., None]):
    # botocore merges the credentials file's profile into the config's, so this is used.
    aws_files(
        "[default]\nregion = eu-west-1\n",
        f"[default]\naws_access_key_id = {REAL_KEY}\naws_secret_access_key = s\nendpoint_url = {EMULATOR}\n",
    )
    assert botocore_endpoint("lambda") == EMULATOR
    assert EMULATOR in refused()


def test_a_profile_that_does_not_exist_is_refused(aws_files: Callable[..., None], monkeypatch: pytest.MonkeyPatch):
    session = StubbedSession(account=None)  # boto3 itself refuses to make a session for a missing profile
    monkeypatch.setenv("AWS_PROFILE", "nowhere")
    message = refused(session)
    assert "nowhere" in message
    assert "AWS_PROFILE" in message


# --- ignore_configured_endpoint_urls -----------------------------------------------------------


@pytest.mark.parametrize(
    ("profile_setting", "variable", "ignored"),
    [
        ("true", None, True),
        (None, "true", True),
        (None, "TRUE", True),
        ("true", "false", False),  # the variable wins over the profile
        ("false", None, False),
        (None, "yes", False),  # botocore takes only "true"
    ],
)
def test_ignore_configured_endpoint_urls_is_honoured_as_botocore_does(
    aws_files: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    profile_setting: str | None,
    variable: str | None,
    ignored: bool,
):
    setting = f"ignore_configured_endpoint_urls = {profile_setting}\n" if profile_setting else ""
    aws_files(f"[default]\nregion = eu-west-1\nendpoint_url = {EMULATOR}\n{setting}")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", EMULATOR)
    if variable is not None:
        monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", variable)
    assert (botocore_endpoint("dynamodb") != EMULATOR) is ignored
    if ignored:
        assert check_aws_target(StubbedSession(), os.environ, ACCOUNT) == ACCOUNT
        assert all(is_aws_endpoint(botocore_endpoint(service)) for service in SERVICES)
    else:
        assert "AWS_ENDPOINT_URL_DYNAMODB" in refused()


# --- credentials and the account ---------------------------------------------------------------


def test_missing_credentials_are_refused(aws_files: Callable[..., None]):
    aws_files(credentials_text="")
    assert "no AWS credentials" in refused()


@pytest.mark.parametrize("key", [*sorted(DUMMY_KEYS), "TEST", "Dummy", "AKIA0000000000000000", "AKIA000000EXAMPLE"])
def test_dummy_credentials_are_refused(aws_files: Callable[..., None], key: str):
    aws_files(credentials_text=f"[default]\naws_access_key_id = {key}\naws_secret_access_key = test\n")
    message = refused()
    assert f"dummy credentials (access key {key!r})" in message
    assert "AWS_PROFILE" in message


def test_a_missing_account_id_is_refused_and_names_the_real_one(aws_files: Callable[..., None]):
    message = refused(StubbedSession(), account=None)
    assert "needs --account-id" in message
    assert f"--account-id {ACCOUNT}" in message


def test_a_mismatched_account_id_is_refused_with_both_accounts(aws_files: Callable[..., None]):
    message = refused(StubbedSession(account="999999999999"))
    assert "999999999999" in message
    assert ACCOUNT in message
    assert "switch profile" in message


def test_an_account_that_cannot_be_confirmed_is_refused_with_what_to_check(aws_files: Callable[..., None]):
    session = StubbedSession(account=None)
    session.client("sts")
    assert session.stubber is not None
    session.stubber.add_client_error("get_caller_identity", "InvalidClientTokenId", "The security token is invalid")
    message = refused(session)
    assert "could not confirm the account" in message
    assert "aws sts get-caller-identity" in message


# --- emulator targets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://s3.eu-west-1.amazonaws.com", True),
        ("https://dynamodb.cn-north-1.amazonaws.com.cn", True),
        ("https://s3.dualstack.eu-west-1.api.aws", True),
        ("http://s3.eu-west-1.amazonaws.com", False),  # AWS answers https
        ("http://localhost:4566", False),
        ("https://s3.localhost.localstack.cloud:4566", False),
        ("https://amazonaws.com.evil.example", False),
        ("https://notamazonaws.com", False),
    ],
)
def test_what_counts_as_an_aws_endpoint(url: str, expected: bool):
    assert is_aws_endpoint(url) is expected


def test_an_emulator_target_needs_an_endpoint_that_is_not_aws():
    assert emulator_endpoint(EMULATOR) == EMULATOR
    with pytest.raises(TargetRefused, match="no emulator endpoint is set"):
        emulator_endpoint(None)
    with pytest.raises(TargetRefused, match="is an AWS endpoint, not an emulator"):
        emulator_endpoint("https://sqs.us-east-1.amazonaws.com")


# --- python -m serverless_testbed.deploy (the compose hook's entry point) -------------------------------------


@pytest.mark.parametrize("options", [[], ["--plan"], ["--destroy"], ["--destroy", "--plan"]])
def test_the_deploy_module_refuses_without_an_emulator_endpoint(
    aws_files: Callable[..., None], capsys: pytest.CaptureFixture[str], options: list[str]
):
    # Real-looking credentials in the files, no endpoint: it would deploy to (or delete from) AWS.
    assert deploy.main(options) == TargetRefused.exit_code
    err = capsys.readouterr().err
    assert "error: no emulator endpoint is set (AWS_ENDPOINT_URL)" in err
    assert "--target aws --account-id" in err


def test_the_deploy_module_refuses_an_aws_endpoint_as_an_emulator(
    aws_files: Callable[..., None], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://sqs.eu-west-1.amazonaws.com")
    assert deploy.main(["--plan"]) == TargetRefused.exit_code
    assert "is an AWS endpoint, not an emulator" in capsys.readouterr().err


@pytest.mark.parametrize("account", [[], ["--account-id", ACCOUNT]])
def test_the_deploy_module_guards_the_aws_target(
    aws_files: Callable[..., None], capsys: pytest.CaptureFixture[str], account: list[str]
):
    aws_files(f"[default]\nregion = eu-west-1\nendpoint_url = {EMULATOR}\n")
    assert deploy.main(["--target", "aws", "--plan", *account]) == TargetRefused.exit_code
    assert "refuses a configured endpoint that is not AWS" in capsys.readouterr().err


def test_the_deploy_module_refuses_dummy_credentials_for_aws(
    aws_files: Callable[..., None], capsys: pytest.CaptureFixture[str]
):
    aws_files(credentials_text="[default]\naws_access_key_id = test\naws_secret_access_key = test\n")
    assert deploy.main(["--target", "aws", "--account-id", ACCOUNT, "--destroy"]) == TargetRefused.exit_code
    assert "dummy credentials" in capsys.readouterr().err


def test_the_deploy_module_takes_the_target_from_testbed_target(
    aws_files: Callable[..., None], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TESTBED_TARGET", "aws")
    args, settings = deploy.parse([])
    assert args.target == "aws"
    assert settings.region == "eu-west-1"  # the profile's, as boto3 would use
    args, _ = deploy.parse(["--target", "emulator", "--account-id", ACCOUNT])
    assert args.target == "emulator"


# --- every command that can touch AWS takes --account-id and meets the guard -----------------------


@pytest.mark.parametrize("command", [["deploy"], ["deploy", "--plan"], ["destroy"], ["run", "orders"], ["up"]])
def test_every_aws_command_takes_the_account_id_and_refuses_a_config_file_endpoint(
    aws_files: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
):
    aws_files(f"[default]\nregion = eu-west-1\nendpoint_url = {EMULATOR}\n")
    monkeypatch.setenv("TESTBED_STATE_DIR", str(tmp_path / "state"))
    result = CliRunner().invoke(app, [*command, "--target", "aws", "--account-id", ACCOUNT], prog_name="testbed")
    assert result.exit_code == TargetRefused.exit_code, result.output
    assert "refuses a configured endpoint that is not AWS" in result.stderr
