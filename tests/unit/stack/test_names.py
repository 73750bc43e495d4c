"""Names that cannot collide and that every service accepts: bucket names carry the account
and region (S3 names are global), the prefix is checked before anything is called, and a
bucket name taken by another account is said so, not shown as a traceback."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from serverless_testbed.cli import app
from serverless_testbed.errors import BadInput, DeployError
from serverless_testbed.registry import stack_for
from serverless_testbed.settings import MAX_PREFIX, PREFIX_PATTERN, Settings, check_prefix
from serverless_testbed.stack.cloudformation import logical_id, template
from serverless_testbed.stack.model import Bucket, Context
from serverless_testbed.stack.names import check_names, name_problems
from serverless_testbed.stack.remote import BotoRemote
from serverless_testbed.stack.stack import Stack
from typer.testing import CliRunner

ACCOUNT = "123456789012"
LONGEST_REGION = "us-isof-south-1"  # 15 characters, the longest region name there is
LONGEST_PREFIX = "p" * MAX_PREFIX


def test_bucket_names_differ_per_account_and_region() -> None:
    bucket = Bucket("csv-files")
    names = {
        bucket.physical(Context(prefix="tb", account=account, region=region))
        for account in (ACCOUNT, "210987654321")
        for region in ("us-east-1", "eu-west-1")
    }
    assert len(names) == 4
    assert bucket.physical(Context(prefix="tb", account=ACCOUNT, region="eu-west-1")) == (
        "tb-csv-files-123456789012-eu-west-1"
    )


def test_the_template_names_buckets_after_the_account_and_region_it_is_deployed_in() -> None:
    stack = stack_for()
    resources = template(stack)["Resources"]
    for bucket in stack.of_kind(Bucket):
        name = resources[logical_id(bucket)]["Properties"]["BucketName"]
        assert name == {"Fn::Sub": f"${{Prefix}}-{bucket.name}-${{AWS::AccountId}}-${{AWS::Region}}"}


def test_the_longest_prefix_in_the_longest_region_fits_every_service() -> None:
    ctx = Context(prefix=LONGEST_PREFIX, account=ACCOUNT, region=LONGEST_REGION)
    stack = stack_for()
    assert name_problems(stack.resources, ctx) == []
    check_names(stack.resources, ctx)
    # Permissions, subscriptions and event source mappings have no name of their own (AWS chooses an id).
    unnamed = {"permission", "subscription", "event-source-mapping"}
    unlimited = {r.kind for r in stack.resources if r.name_limit is None and r.kind not in unnamed}
    assert not unlimited, f"no length limit known for {unlimited}"


def test_a_name_too_long_for_its_service_is_refused_in_words() -> None:
    stack = Stack.of([Bucket("a-bucket-with-a-rather-long-logical-name")])
    ctx = Context(prefix=LONGEST_PREFIX, account=ACCOUNT, region=LONGEST_REGION)
    with pytest.raises(BadInput, match=r"S3 bucket name 'p+-a-bucket.*' is \d+ characters long, more than 63"):
        check_names(stack.resources, ctx)


@pytest.mark.parametrize(
    ("prefix", "says"),
    [
        ("", "is empty"),
        ("p" * (MAX_PREFIX + 1), f"more than {MAX_PREFIX}"),
        ("Tb", "holds 'T'"),
        ("tb_1", "holds '_'"),
        ("tb.x", "holds '.'"),
        ("1tb", "does not start with a letter"),
        ("tb-", "ends with a hyphen"),
        ("xn--tb", "starts with 'xn--'"),
        ("sthree-x", "starts with 'sthree-'"),
    ],
)
def test_a_prefix_no_bucket_name_can_hold_is_refused_saying_why(prefix: str, says: str) -> None:
    with pytest.raises(BadInput, match=f"prefix {prefix!r} .*{says}"):
        Settings(prefix=prefix)


@pytest.mark.parametrize("prefix", ["t", "tb", "ci-42", "t1a2b3c", LONGEST_PREFIX, "team-a-staging"])
def test_good_prefixes_pass_here_and_in_the_template_pattern(prefix: str) -> None:
    import re

    assert check_prefix(prefix) == prefix
    assert re.fullmatch(PREFIX_PATTERN, prefix)
    assert template(stack_for(["orders"]))["Parameters"]["Prefix"]["AllowedPattern"] == PREFIX_PATTERN


def test_the_cli_refuses_a_bad_prefix_in_one_line_before_anything_runs() -> None:
    result = CliRunner().invoke(app, ["export", "cloudformation", "--prefix", "My_Stack"])
    assert result.exit_code == BadInput.exit_code
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: prefix 'My_Stack'"), result.output
    assert "Traceback" not in result.output


def test_a_bucket_name_of_another_account_is_said_so() -> None:
    """head_bucket answers 403 for a bucket that exists in an account we cannot read."""
    s3: Any = boto3.Session(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x", region_name="eu-west-1").client(
        "s3"
    )
    stubber = Stubber(s3)
    stubber.add_client_error("head_bucket", service_error_code="403", service_message="Forbidden", http_status_code=403)
    stubber.activate()
    stack = Stack.of([Bucket("csv-files")])
    ctx = Context(prefix="tb", account=ACCOUNT, region="eu-west-1")
    with pytest.raises(DeployError, match=r"tb-csv-files-123456789012-eu-west-1: .*belongs to another account"):
        BotoRemote(lambda service: s3).describe(stack.get("csv-files"), stack, ctx)


def test_a_missing_bucket_is_still_just_missing() -> None:
    s3: Any = boto3.Session(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x", region_name="eu-west-1").client(
        "s3"
    )
    stubber = Stubber(s3)
    stubber.add_client_error("head_bucket", service_error_code="404", service_message="Not Found", http_status_code=404)
    stubber.activate()
    stack = Stack.of([Bucket("csv-files")])
    ctx = Context(prefix="tb", account=ACCOUNT, region="eu-west-1")
    assert BotoRemote(lambda service: s3).describe(stack.get("csv-files"), stack, ctx) is None
