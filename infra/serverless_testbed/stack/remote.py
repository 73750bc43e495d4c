"""What a target already has, read through boto3 in the planner's desired shape."""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError
from serverless_testbed.clients import Clients
from serverless_testbed.errors import DeployError
from serverless_testbed.stack.answers import GONE_CODES
from serverless_testbed.stack.calls import POLICY_NAME
from serverless_testbed.stack.desired import State
from serverless_testbed.stack.model import (
    Bucket,
    Context,
    Function,
    Permission,
    Queue,
    Resource,
    RestApi,
    Role,
    Rule,
    StateMachine,
    Stream,
    Table,
    Topic,
    canonical_json,
)
from serverless_testbed.stack.stack import Stack

# "InvalidArn": some emulators answer it for a state machine ARN they do not know.
_MISSING = GONE_CODES | {"InvalidArn"}


def _missing(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") in _MISSING


# The services each kind is read through (their clients are made before reading concurrently).
SERVICES: dict[type[Resource], str] = {
    Role: "iam",
    Table: "dynamodb",
    Bucket: "s3",
    Queue: "sqs",
    Topic: "sns",
    Stream: "kinesis",
    Function: "lambda",
    Permission: "lambda",
    StateMachine: "stepfunctions",
    Rule: "events",
    RestApi: "apigateway",
}

# Reads in flight at once: each is one to three small requests; more would only queue at the target.
READ_THREADS = 8


class BotoRemote:
    """Reads each resource with the describe calls of its service; None when absent.

    `read_ahead` starts the reads of many resources at once (boto3 clients are thread-safe);
    `describe` then answers from them, an error raised where that resource is described."""

    def __init__(self, clients: Clients) -> None:
        self.client = clients
        self._ahead: dict[int, tuple[Resource, Future[State | None]]] = {}

    def read_ahead(self, resources: Iterable[Resource], stack: Stack, ctx: Context) -> None:
        """Read `resources` concurrently (READ_THREADS at a time) and keep each answer for
        the one `describe` of that resource; returns when all are read."""
        wanted = [resource for resource in resources if id(resource) not in self._ahead]
        for service in sorted({_service(resource) for resource in wanted}):
            self.client(service)  # clients are made here, one at a time: a boto3 session is not thread-safe
        with ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="describe") as pool:
            for resource in wanted:
                self._ahead[id(resource)] = (resource, pool.submit(self._read, resource, stack, ctx))

    def describe(self, resource: Resource, stack: Stack, ctx: Context) -> State | None:
        ahead = self._ahead.pop(id(resource), None)
        if ahead is not None and ahead[0] is resource:
            return ahead[1].result()  # the read's answer, or its error raised here
        return self._read(resource, stack, ctx)

    def _read(self, resource: Resource, stack: Stack, ctx: Context) -> State | None:
        reader = getattr(self, f"_{type(resource).__name__.lower()}", None)
        if reader is None and isinstance(resource, Topic):
            reader = self._topic
        if reader is None:
            raise TypeError(f"cannot read {resource.kind}")
        try:
            state: State | None = reader(resource, ctx)
            return state
        except ClientError as err:
            if _missing(err):
                return None
            raise

    def _role(self, role: Role, ctx: Context) -> State:
        iam = self.client("iam")
        name = role.physical(ctx)
        found: Any = iam.get_role(RoleName=name)["Role"]
        try:
            policy: Any = iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)["PolicyDocument"]
        except ClientError as err:
            if not _missing(err):
                raise
            policy = None
        return {"trust": _document(found["AssumeRolePolicyDocument"]), "policy": _document(policy) if policy else None}

    def _table(self, table: Table, ctx: Context) -> State:
        found: Any = self.client("dynamodb").describe_table(TableName=table.physical(ctx))["Table"]
        indexes = [
            {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
            for i in sorted(found.get("GlobalSecondaryIndexes", []), key=lambda i: i["IndexName"])
        ]
        stream = found.get("StreamSpecification") or {}
        return {
            "KeySchema": found["KeySchema"],
            "AttributeDefinitions": sorted(found["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
            "GlobalSecondaryIndexes": indexes,
            "StreamViewType": stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
        }

    def _bucket(self, bucket: Bucket, ctx: Context) -> State:
        s3 = self.client("s3")
        name = bucket.physical(ctx)
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

    def _queue(self, queue: Queue, ctx: Context) -> State:
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=queue.physical(ctx))["QueueUrl"]
        names: list[Any] = ["VisibilityTimeout", "MessageRetentionPeriod"]
        attributes: Any = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return {name: attributes.get(name) for name in names} | {"_url": url}

    def _topic(self, topic: Topic, ctx: Context) -> State:
        self.client("sns").get_topic_attributes(TopicArn=topic.arn(ctx))
        return {}

    def _stream(self, stream: Stream, ctx: Context) -> State:
        self.client("kinesis").describe_stream_summary(StreamName=stream.physical(ctx))
        return {}

    def _function(self, function: Function, ctx: Context) -> State:
        found = self.client("lambda").get_function_configuration(FunctionName=function.physical(ctx))
        return {
            "CodeSha256": found["CodeSha256"],
            "Handler": found.get("Handler"),
            "Runtime": found.get("Runtime"),
            "Architectures": found.get("Architectures") or ["x86_64"],  # Lambda's default
            "Timeout": found.get("Timeout"),
            "MemorySize": found.get("MemorySize"),
            "Environment": dict(sorted(found.get("Environment", {}).get("Variables", {}).items())),
            "Role": found.get("Role"),
        }

    def _permission(self, permission: Permission, ctx: Context) -> State | None:
        policy = json.loads(self.client("lambda").get_policy(FunctionName=ctx.name(permission.function))["Policy"])
        for statement in policy.get("Statement", []):
            if statement.get("Sid") == permission.statement_id:
                principal = statement.get("Principal", {})
                condition = statement.get("Condition", {}).get("ArnLike", {})
                return {
                    "Principal": principal.get("Service") if isinstance(principal, dict) else principal,
                    "SourceArn": condition.get("AWS:SourceArn"),
                }
        return None

    def _statemachine(self, machine: StateMachine, ctx: Context) -> State | None:
        found = self.client("stepfunctions").describe_state_machine(stateMachineArn=machine.arn(ctx))
        if found.get("status") == "DELETING":
            return None  # on its way out: to deploy it is created again (once the name is free), to destroy gone
        return {
            "definition": canonical_json(json.loads(found["definition"])),
            "roleArn": found["roleArn"],
            "type": found.get("type", "STANDARD"),
        }

    def _rule(self, rule: Rule, ctx: Context) -> State:
        events = self.client("events")
        name = rule.physical(ctx)
        found = events.describe_rule(Name=name)
        targets: list[Any] = events.list_targets_by_rule(Rule=name)["Targets"]
        keep = ("Id", "Arn", "RoleArn", "InputPath")
        return {
            "pattern": canonical_json(json.loads(found["EventPattern"])),
            "targets": canonical_json([{k: t[k] for k in keep if k in t} for t in targets]),
        }

    def _restapi(self, api: RestApi, ctx: Context) -> State | None:
        gateway = self.client("apigateway")
        name = api.physical(ctx)
        found = [item for item in gateway.get_rest_apis(limit=500)["items"] if item["name"] == name]
        if not found:
            return None
        api_id = found[0]["id"]
        state: State = {"_id": api_id, "integration": None, "stage": None}
        for resource in gateway.get_resources(restApiId=api_id)["items"]:
            if resource.get("path") == f"/{api.path}" and api.method in resource.get("resourceMethods", {}):
                try:
                    integration = gateway.get_integration(
                        restApiId=api_id, resourceId=resource["id"], httpMethod=api.method
                    )
                    state["integration"] = integration.get("uri")
                except ClientError as err:
                    if not _missing(err):
                        raise
        stages = {s["stageName"] for s in gateway.get_stages(restApiId=api_id).get("item", [])}
        state["stage"] = api.stage if api.stage in stages else None
        return state


def _service(resource: Resource) -> str:
    for kind, service in SERVICES.items():
        if isinstance(resource, kind):
            return service
    raise TypeError(f"cannot read {resource.kind}")


def _document(value: str | dict[str, Any]) -> str:
    """IAM returns policy documents URL-encoded or parsed depending on the client."""
    if isinstance(value, str):
        from urllib.parse import unquote

        value = json.loads(unquote(value))
    return canonical_json(value)


def rest_api_url(clients: Clients, api: RestApi, ctx: Context, endpoint_url: str | None) -> str | None:
    """The invoke URL of a deployed API: AWS's form, or the emulator's path form."""
    for item in clients("apigateway").get_rest_apis(limit=500)["items"]:
        if item["name"] == api.physical(ctx):
            if endpoint_url:
                return f"{endpoint_url}/_aws/execute-api/{item['id']}/{api.stage}/{api.path}"
            return f"https://{item['id']}.execute-api.{ctx.region}.amazonaws.com/{api.stage}/{api.path}"
    return None
