"""Roles for the IAM enforcement tests: a trust policy for functions and state machines, a
read-only grant, and clients signed with a session of a role, as a function's are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from serverless_testbed.clients import Clients
from serverless_testbed.engine.base import Engine

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


def read_only(bucket: str) -> list[dict[str, Any]]:
    return [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{bucket}/*"]}]


def role_clients(aws: Clients, engine: Engine, role: str) -> Callable[[str], Any]:
    """Clients signed with a session of `role`, as a function's are."""
    credentials = aws("sts").assume_role(RoleArn=role, RoleSessionName="probe")["Credentials"]

    def client(service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=engine.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    return client
