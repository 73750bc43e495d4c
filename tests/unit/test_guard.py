"""The guard that keeps `--target aws` away from emulators and emulators off real AWS."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials
from botocore.stub import Stubber

from infra.errors import TargetRefused
from infra.guard import DUMMY_KEYS, check_aws_target

REAL_KEY = "AKIAIOSFODNN7EXAMPLE"
ACCOUNT = "123456789012"
# One session for the module: its loaded service models make each new client cheap.
_BOTO = boto3.Session(aws_access_key_id="unused", aws_secret_access_key="unused", region_name="us-east-1")


class StubbedSession:
    """A boto3 session whose STS client answers from a botocore Stubber, never the network."""

    def __init__(self, access_key: str | None = REAL_KEY, account: str | None = ACCOUNT) -> None:
        self._credentials = Credentials(access_key, "secret") if access_key else None
        self.sts = _BOTO.client("sts")
        self.stubber = Stubber(self.sts)
        if account is not None:
            self.stubber.add_response(
                "get_caller_identity",
                {"Account": account, "Arn": f"arn:aws:iam::{account}:user/me", "UserId": "AIDA1"},
            )
        self.stubber.activate()

    def get_credentials(self) -> Credentials | None:
        return self._credentials

    def client(self, name: str) -> Any:
        assert name == "sts", f"the guard should only call STS, not {name}"
        return self.sts


def test_real_credentials_and_the_right_account_pass():
    session = StubbedSession()
    assert check_aws_target(session, {}, ACCOUNT) == ACCOUNT
    session.stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    "variables",
    [
        {"AWS_ENDPOINT_URL": "http://localhost:4566"},
        {"AWS_ENDPOINT_URL_S3": "http://localhost:4566"},
        {"AWS_ENDPOINT_URL_STEPFUNCTIONS": "http://x", "AWS_ENDPOINT_URL": "http://y"},
    ],
)
def test_any_endpoint_variable_is_refused_before_calling_aws(variables: dict[str, str]):
    session = StubbedSession(account=None)  # any STS call would fail the stubber
    with pytest.raises(TargetRefused, match="refuses to run while") as raised:
        check_aws_target(session, {"HOME": "/root", **variables}, ACCOUNT)
    message = str(raised.value)
    for name in variables:
        assert name in message
    assert "unset AWS_ENDPOINT_URL" in message


def test_missing_credentials_are_refused():
    session = StubbedSession(access_key=None, account=None)
    with pytest.raises(TargetRefused, match="no AWS credentials"):
        check_aws_target(session, {}, ACCOUNT)


@pytest.mark.parametrize("key", [*sorted(DUMMY_KEYS), "TEST", "Dummy", "AKIA0000000000000000", "AKIA000000EXAMPLE"])
def test_dummy_credentials_are_refused(key: str):
    session = StubbedSession(access_key=key, account=None)
    with pytest.raises(TargetRefused, match="dummy credentials") as raised:
        check_aws_target(session, {}, ACCOUNT)
    assert repr(key) in str(raised.value)
    assert "AWS_PROFILE" in str(raised.value)


def test_a_missing_account_id_is_refused_and_names_the_real_one():
    session = StubbedSession()
    with pytest.raises(TargetRefused, match="needs --account-id") as raised:
        check_aws_target(session, {}, None)
    assert f"--account-id {ACCOUNT}" in str(raised.value)


def test_a_mismatched_account_id_is_refused_with_both_accounts():
    session = StubbedSession(account="999999999999")
    with pytest.raises(TargetRefused) as raised:
        check_aws_target(session, {}, ACCOUNT)
    message = str(raised.value)
    assert "999999999999" in message
    assert ACCOUNT in message
    assert "switch profile" in message


def test_unrelated_aws_variables_do_not_trip_the_endpoint_check():
    session = StubbedSession()
    env = {"AWS_PROFILE": "prod", "AWS_REGION": "eu-west-1", "AWS_CA_BUNDLE": "/etc/ssl/ca.pem"}
    assert check_aws_target(session, env, ACCOUNT) == ACCOUNT


def test_an_account_that_cannot_be_confirmed_is_refused_with_what_to_check():
    session = StubbedSession(account=None)
    session.stubber.add_client_error("get_caller_identity", "InvalidClientTokenId", "The security token is invalid")
    with pytest.raises(TargetRefused, match="could not confirm the account") as raised:
        check_aws_target(session, {}, ACCOUNT)
    assert "aws sts get-caller-identity" in str(raised.value)
