"""IAM enforcement reads every way a request carries its credentials, and judges actions
without a resource type as AWS does. AWS's reference: a presigned request (URL or POST form)
is authorized as its signer (S3 User Guide, "Uploading objects using presigned URLs" and
"Browser-based uploads using POST"); s3:ListAllMyBuckets has no resource type, and AWS's
examples grant it on arn:aws:s3:::*."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from serverless_testbed.clients import Clients
from serverless_testbed.engine.base import Engine

from tests.integration.iam.roles import read_only, role_clients

pytestmark = pytest.mark.embedded_only(reason="IAM enforcement is the embedded engine's own (LocalStack's is paid)")


def post_upload(role_s3: Any, bucket: str, key: str) -> requests.Response:
    """A browser-style upload with a presigned POST the role signed."""
    form = role_s3.generate_presigned_post(Bucket=bucket, Key=key)
    return requests.post(form["url"], data=form["fields"], files={"file": ("f.txt", b"uploaded")}, timeout=10)


def stored(aws: Clients, bucket: str, key: str) -> bool:
    try:
        aws("s3").head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


def test_a_presigned_post_is_authorized_as_its_signer(
    aws: Clients,
    testbed_engine: Engine,
    make_role: Callable[[list[dict[str, Any]]], str],
    make_bucket: Callable[[], str],
):
    readable, other = make_bucket(), make_bucket()
    reader = role_clients(aws, testbed_engine, make_role(read_only(readable)))("s3")
    refused = post_upload(reader, other, "sneaked-in.txt")
    assert refused.status_code == 403, f"expected 403 AccessDenied, saw {refused.status_code}: {refused.text[:300]}"
    assert "AccessDenied" in refused.text
    assert not stored(aws, other, "sneaked-in.txt"), "the refused upload stored the object"

    grant = [{"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [f"arn:aws:s3:::{other}/uploads/*"]}]
    writer = role_clients(aws, testbed_engine, make_role(grant))("s3")
    accepted = post_upload(writer, other, "uploads/ok.txt")
    assert accepted.status_code in (200, 201, 204), accepted.text[:300]
    assert stored(aws, other, "uploads/ok.txt")
    outside = post_upload(writer, other, "elsewhere/no.txt")
    assert outside.status_code == 403, outside.text[:300]
    assert not stored(aws, other, "elsewhere/no.txt")


@pytest.mark.parametrize(
    ("resource", "allowed"),
    [("arn:aws:s3:::*", True), ("*", True), ("arn:aws:s3:::one-bucket", False)],
)
def test_listing_all_buckets_is_judged_on_all_of_s3(
    aws: Clients,
    testbed_engine: Engine,
    make_role: Callable[[list[dict[str, Any]]], str],
    resource: str,
    allowed: bool,
):
    role = make_role([{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": resource}])
    s3 = role_clients(aws, testbed_engine, role)("s3")
    if allowed:
        assert "Buckets" in s3.list_buckets()
        return
    with pytest.raises(ClientError) as refused:
        s3.list_buckets()
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.parametrize("signature", ["s3v4", "s3"], ids=["SigV4 query", "SigV2 query"])
def test_a_presigned_url_is_authorized_as_its_signer(
    aws: Clients,
    testbed_engine: Engine,
    make_role: Callable[[list[dict[str, Any]]], str],
    make_bucket: Callable[[], str],
    signature: str,
):
    import boto3
    from botocore.config import Config

    readable, other = make_bucket(), make_bucket()
    role = make_role(read_only(readable))
    credentials = aws("sts").assume_role(RoleArn=role, RoleSessionName="presigner")["Credentials"]
    s3 = boto3.client(
        "s3",
        endpoint_url=testbed_engine.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=Config(signature_version=signature, s3={"addressing_style": "path"}),
    )
    url = s3.generate_presigned_url("put_object", Params={"Bucket": other, "Key": "sneaked-in.txt"})
    refused = requests.put(url, data=b"uploaded", timeout=10)
    assert refused.status_code == 403, f"expected 403, saw {refused.status_code}: {refused.text[:300]}"
    assert not stored(aws, other, "sneaked-in.txt")
