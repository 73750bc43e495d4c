"""S3 buckets, with notifications to Lambda functions and to EventBridge."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from serverless_testbed.clients import Clients
from serverless_testbed.errors import DeployError
from serverless_testbed.stack.answers import GONE_CODES, answer_failures, refused_in_answer
from serverless_testbed.stack.calls import Call
from serverless_testbed.stack.resource import Context, Ref, Resource, State, Value, canonical_json
from serverless_testbed.stack.stack import Stack


@dataclass(frozen=True)
class Notification:
    """An S3 event notification from a bucket to a Lambda function."""

    function: str
    prefix: str = ""
    suffix: str = ""
    events: tuple[str, ...] = ("s3:ObjectCreated:*",)


@dataclass(frozen=True)
class Bucket(Resource):
    """An S3 bucket; `eventbridge` sends its events to the default event bus."""

    eventbridge: bool = False
    notifications: tuple[Notification, ...] = ()

    kind = "bucket"
    services = ("s3",)
    name_limit = ("S3 bucket", 63)
    stateful = True

    def physical(self, ctx: Context) -> str:
        """S3 names are global across accounts: the account and region make this one ours alone."""
        return f"{ctx.name(self.name)}-{ctx.account}-{ctx.region}"

    def arn(self, ctx: Context) -> str:
        return f"arn:{ctx.partition}:s3:::{self.physical(ctx)}"

    def refs(self) -> Iterator[Ref]:
        return (Ref(n.function) for n in self.notifications)

    def invokes(self) -> Iterator[tuple[str, str, str, Value]]:
        """S3 may invoke each function it notifies, for this bucket only."""
        for notification in self.notifications:
            yield (
                self._permission_name(notification.function),
                notification.function,
                "s3.amazonaws.com",
                Ref(self.name),
            )

    def depends_on(self, stack: Stack) -> set[str]:
        # S3 refuses a notification to a function it may not invoke.
        return {self._permission_name(n.function) for n in self.notifications}

    def _permission_name(self, function: str) -> str:
        return f"{self.name}-invokes-{function}"

    def notification_config(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.eventbridge:
            config["EventBridgeConfiguration"] = {}
        functions = []
        for notification in self.notifications:
            rules = [{"Name": "prefix", "Value": notification.prefix}] if notification.prefix else []
            if notification.suffix:
                rules.append({"Name": "suffix", "Value": notification.suffix})
            entry: dict[str, Any] = {
                "Id": f"testbed-{notification.function}",
                "LambdaFunctionArn": stack.get(notification.function).arn(ctx),
                "Events": list(notification.events),
            }
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            functions.append(entry)
        if functions:
            config["LambdaFunctionConfigurations"] = functions
        return config

    def desired(self, stack: Stack, ctx: Context) -> State:
        return {"notifications": canonical_json(self.notification_config(stack, ctx))}

    def read(self, clients: Clients, ctx: Context) -> State:
        s3 = clients("s3")
        name = self.physical(ctx)
        try:
            s3.head_bucket(Bucket=name)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in ("403", "Forbidden", "AccessDenied"):
                raise
            # S3 names are global: 403 is a bucket of that name in an account these credentials cannot read.
            raise DeployError(
                f"bucket {name}: head_bucket answered 403 Forbidden: this bucket name belongs to another "
                f"account (or these credentials may not read it, s3:ListBucket); choose another --prefix"
            ) from err
        config: dict[str, Any] = dict(s3.get_bucket_notification_configuration(Bucket=name))
        config.pop("ResponseMetadata", None)
        for entry in config.get("LambdaFunctionConfigurations", []):
            rules = entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])
            for rule in rules:
                rule["Name"] = rule["Name"].lower()  # S3 answers "Prefix", the request said "prefix"
        return {"notifications": canonical_json(config)}

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        name = self.physical(ctx)
        params: dict[str, Any] = {"Bucket": name}
        if ctx.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
        calls = [Call("s3", "create_bucket", params, waiter="bucket_exists", waiter_params={"Bucket": name})]
        return calls + self.update(stack, ctx, desired, {})

    def update(self, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
        config = self.notification_config(stack, ctx)
        if not config and not current.get("notifications"):
            return []
        params = {"Bucket": self.physical(ctx), "NotificationConfiguration": config}
        return [Call("s3", "put_bucket_notification_configuration", params)]

    def delete(self, ctx: Context, current: State) -> list[Call]:
        name = self.physical(ctx)
        # S3 refuses to delete a bucket with objects: emptied first, a step of the deployer's own.
        return [
            Call("s3", "empty_bucket", {"Bucket": name}, gone_ok=True, run=empty_bucket),
            Call("s3", "delete_bucket", {"Bucket": name}, gone_ok=True),
        ]

    def empty(self, clients: Clients, ctx: Context) -> int:
        return empty_bucket(clients("s3"), self.physical(ctx))["deleted"]

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        config = self.notification_config(stack, ctx)
        notifications: dict[str, Any] = {}
        if "EventBridgeConfiguration" in config:
            notifications["EventBridgeConfiguration"] = {"EventBridgeEnabled": True}
        lambdas = []
        for entry in config.get("LambdaFunctionConfigurations", []):
            for event in entry["Events"]:
                item: dict[str, Any] = {"Event": event, "Function": entry["LambdaFunctionArn"]}
                rules = entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])
                if rules:
                    item["Filter"] = {"S3Key": {"Rules": rules}}
                lambdas.append(item)
        if lambdas:
            notifications["LambdaConfigurations"] = lambdas
        props: dict[str, Any] = {"Type": "AWS::S3::Bucket", "BucketName": self.physical(ctx)}
        if notifications:
            props["NotificationConfiguration"] = notifications
        return props

    def outputs(self, ctx: Context, key: str) -> dict[str, Any]:
        return {f"{key}Name": {"Description": f"S3 bucket {self.name}", "Value": {"Ref": key}}}

    def teardown(self, output: Any, key: str) -> list[str]:
        return [f'aws s3 rm "s3://{output(key + "Name")}" --recursive']  # CloudFormation deletes empty buckets only


def empty_bucket(s3: Any, Bucket: str) -> dict[str, int]:
    """Delete every object version and delete marker of `Bucket` (a bucket already gone
    has none); an object S3 reports as not deleted is an error naming it."""
    deleted = 0
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=Bucket):
            keys = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(keys), 1000):
                chunk = keys[start : start + 1000]
                answer = s3.delete_objects(Bucket=Bucket, Delete={"Objects": chunk, "Quiet": True})
                failures = answer_failures("s3", "delete_objects", answer)  # Quiet: the answer lists only failures
                if failures:
                    raise refused_in_answer("delete_objects", failures)
                deleted += len(chunk)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in GONE_CODES:
            raise
    return {"deleted": deleted}
