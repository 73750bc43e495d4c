"""Safety checks that keep emulator runs away from real AWS and real runs off emulators."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.errors import TargetRefused

DUMMY_KEYS = {"test", "testing", "dummy", "foo", "fake", "localstack", "testcontainers-localstack"}
ENDPOINT_VARIABLES_PREFIX = "AWS_ENDPOINT_URL"


def check_aws_target(session: Any, environ: Mapping[str, str], expected_account: str | None) -> str:
    """Refuse to act on real AWS unless everything says it is meant; return the account id."""
    endpoints = sorted(key for key in environ if key.startswith(ENDPOINT_VARIABLES_PREFIX))
    if endpoints:
        raise TargetRefused(
            f"--target aws refuses to run while {', '.join(endpoints)} is set: it would send "
            "the calls to an emulator. Unset it (unset AWS_ENDPOINT_URL) or pick an emulator target."
        )
    credentials = session.get_credentials()
    if credentials is None:
        raise TargetRefused("--target aws found no AWS credentials; configure a profile (aws configure) first.")
    key = credentials.get_frozen_credentials().access_key
    if key.lower() in DUMMY_KEYS or key.startswith("AKIA000000"):
        raise TargetRefused(
            f"--target aws refuses the emulator's dummy credentials (access key {key!r}); "
            "use a real profile (AWS_PROFILE=...)."
        )
    try:
        account = str(session.client("sts").get_caller_identity()["Account"])
    except (BotoCoreError, ClientError) as err:
        raise TargetRefused(
            f"--target aws could not confirm the account with STS GetCallerIdentity ({err}); "
            "check the network and that the credentials are valid (aws sts get-caller-identity)."
        ) from err
    if expected_account is None:
        raise TargetRefused(
            f"--target aws needs --account-id to confirm the account; these credentials are for "
            f"{account}. Rerun with --account-id {account} if that is the one you mean."
        )
    if account != expected_account:
        raise TargetRefused(
            f"--target aws: the credentials belong to account {account}, not {expected_account} "
            "as asked; switch profile or fix --account-id."
        )
    return account
