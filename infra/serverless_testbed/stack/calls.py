"""The API calls that create, update or delete each kind of resource.

Each builder takes the resource with its desired (and, for updates and deletes, its
current) state and returns the calls in the order AWS needs them; `Saved` values carry
ids AWS chooses from one call of a change to the next.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from serverless_testbed.stack.desired import State, notification_config, rule_targets
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
    RuntimeTopic,
    StateMachine,
    Stream,
    Table,
    Topic,
)
from serverless_testbed.stack.stack import Stack

POLICY_NAME = "testbed"


@dataclass(frozen=True)
class Saved:
    """A value produced by an earlier call of the same change (an id AWS chooses)."""

    key: str
    template: str = "{}"

    def render(self, value: str) -> str:
        return self.template.format(value)

    def __repr__(self) -> str:
        return self.template.format(f"<{self.key}>")


@dataclass(frozen=True)
class Call:
    """One API call: `client(service).operation(**params)`, then an optional waiter.

    `save` keeps values of the response (key -> JMESPath) for later calls' `Saved`s.
    `gone_ok`: a deletion; "no such resource" means it is done (a half-done deploy or
    destroy, or a second destroy, meets things already gone).
    """

    service: str
    operation: str
    params: Mapping[str, Any] = field(default_factory=dict)
    save: Mapping[str, str] = field(default_factory=dict)
    waiter: str | None = None
    waiter_params: Mapping[str, Any] = field(default_factory=dict)
    gone_ok: bool = False

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={short(v)}" for k, v in self.params.items())
        return f"{self.service}.{self.operation}({shown})"


def short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= width else f"{text[: width - 3]}..."


Builder = Callable[[Any, Stack, Context, State], list[Call]]
Updater = Callable[[Any, Stack, Context, State, State], list[Call]]
Deleter = Callable[[Any, Context, State], list[Call]]


def _role_create(role: Role, stack: Stack, ctx: Context, desired: State) -> list[Call]:
    name = role.physical(ctx)
    return [
        Call("iam", "create_role", {"RoleName": name, "AssumeRolePolicyDocument": desired["trust"]}),
        Call(
            "iam", "put_role_policy", {"RoleName": name, "PolicyName": POLICY_NAME, "PolicyDocument": desired["policy"]}
        ),
    ]


def _role_update(role: Role, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
    name = role.physical(ctx)
    calls = []
    if desired["trust"] != current.get("trust"):
        calls.append(Call("iam", "update_assume_role_policy", {"RoleName": name, "PolicyDocument": desired["trust"]}))
    if desired["policy"] != current.get("policy"):
        calls.append(
            Call(
                "iam",
                "put_role_policy",
                {"RoleName": name, "PolicyName": POLICY_NAME, "PolicyDocument": desired["policy"]},
            )
        )
    return calls


def _role_delete(role: Role, ctx: Context, current: State) -> list[Call]:
    name = role.physical(ctx)
    calls = (
        [Call("iam", "delete_role_policy", {"RoleName": name, "PolicyName": POLICY_NAME}, gone_ok=True)]
        if current.get("policy")
        else []
    )
    return [*calls, Call("iam", "delete_role", {"RoleName": name}, gone_ok=True)]


def _table_create(table: Table, stack: Stack, ctx: Context, desired: State) -> list[Call]:
    name = table.physical(ctx)
    params: dict[str, Any] = {
        "TableName": name,
        "KeySchema": desired["KeySchema"],
        "AttributeDefinitions": desired["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if desired["GlobalSecondaryIndexes"]:
        params["GlobalSecondaryIndexes"] = desired["GlobalSecondaryIndexes"]
    if table.stream:
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream}
    return [Call("dynamodb", "create_table", params, waiter="table_exists", waiter_params={"TableName": name})]


def _table_update(table: Table, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
    if desired["KeySchema"] != current.get("KeySchema"):
        raise ValueError(
            f"table {table.physical(ctx)}: its key schema changed; DynamoDB cannot change keys in place. "
            "Run `testbed destroy` (it deletes the data) and deploy again."
        )
    name = table.physical(ctx)
    calls: list[Call] = []
    if desired["StreamViewType"] != current.get("StreamViewType"):
        if current.get("StreamViewType"):
            calls.append(
                Call(
                    "dynamodb",
                    "update_table",
                    {"TableName": name, "StreamSpecification": {"StreamEnabled": False}},
                    waiter="table_exists",
                    waiter_params={"TableName": name},
                )
            )
        if desired["StreamViewType"]:
            spec = {"StreamEnabled": True, "StreamViewType": desired["StreamViewType"]}
            calls.append(
                Call(
                    "dynamodb",
                    "update_table",
                    {"TableName": name, "StreamSpecification": spec},
                    waiter="table_exists",
                    waiter_params={"TableName": name},
                )
            )
    existing = {i["IndexName"] for i in current.get("GlobalSecondaryIndexes", [])}
    for index in desired["GlobalSecondaryIndexes"]:
        if index["IndexName"] not in existing:
            calls.append(
                Call(
                    "dynamodb",
                    "update_table",
                    {
                        "TableName": name,
                        "AttributeDefinitions": desired["AttributeDefinitions"],
                        "GlobalSecondaryIndexUpdates": [{"Create": index}],
                    },
                    waiter="table_exists",
                    waiter_params={"TableName": name},
                )
            )
    return calls


def _table_delete(table: Table, ctx: Context, current: State) -> list[Call]:
    name = table.physical(ctx)
    return [
        Call(
            "dynamodb",
            "delete_table",
            {"TableName": name},
            waiter="table_not_exists",
            waiter_params={"TableName": name},
            gone_ok=True,
        )
    ]


def _bucket_create(bucket: Bucket, stack: Stack, ctx: Context, desired: State) -> list[Call]:
    name = bucket.physical(ctx)
    params: dict[str, Any] = {"Bucket": name}
    if ctx.region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
    calls = [Call("s3", "create_bucket", params, waiter="bucket_exists", waiter_params={"Bucket": name})]
    return calls + _bucket_update(bucket, stack, ctx, desired, {})


def _bucket_update(bucket: Bucket, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
    config = notification_config(bucket, stack, ctx)
    if not config and not current.get("notifications"):
        return []
    return [
        Call(
            "s3",
            "put_bucket_notification_configuration",
            {"Bucket": bucket.physical(ctx), "NotificationConfiguration": config},
        )
    ]


def _bucket_delete(bucket: Bucket, ctx: Context, current: State) -> list[Call]:
    name = bucket.physical(ctx)
    # "empty_bucket" is the executor's own step: S3 refuses to delete a bucket with objects.
    return [
        Call("s3", "empty_bucket", {"Bucket": name}, gone_ok=True),
        Call("s3", "delete_bucket", {"Bucket": name}, gone_ok=True),
    ]


def _queue_create(queue: Queue, stack: Stack, ctx: Context, desired: State) -> list[Call]:
    return [Call("sqs", "create_queue", {"QueueName": queue.physical(ctx), "Attributes": desired})]


def _queue_update(queue: Queue, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
    return [Call("sqs", "set_queue_attributes", {"QueueUrl": current["_url"], "Attributes": desired})]


def _queue_delete(queue: Queue, ctx: Context, current: State) -> list[Call]:
    return [Call("sqs", "delete_queue", {"QueueUrl": current["_url"]}, gone_ok=True)]


def _topic_create(topic: Topic, stack: Stack, ctx: Context, desired: State) -> list[Call]:
    return [Call("sns", "create_topic", {"Name": topic.physical(ctx)})]


def _topic_delete(topic: Topic, ctx: Context, current: State) -> list[Call]:
    return [Call("sns", "delete_topic", {"TopicArn": topic.arn(ctx)}, gone_ok=True)]


def _stream_create(stream: Stream, stack: Stack, ctx: Context, desired: State) -> list[Call]:
    name = stream.physical(ctx)
    return [
        Call(
            "kinesis",
            "create_stream",
            {"StreamName": name, "ShardCount": stream.shards},
            waiter="stream_exists",
            waiter_params={"StreamName": name},
        )
    ]


def _stream_delete(stream: Stream, ctx: Context, current: State) -> list[Call]:
    name = stream.physical(ctx)
    return [
        Call(
            "kinesis",
            "delete_stream",
            {"StreamName": name, "EnforceConsumerDeletion": True},
            waiter="stream_not_exists",
            waiter_params={"StreamName": name},
            gone_ok=True,
        )
    ]


def _function_create(function: Function, stack: Stack, ctx: Context, desired: State) -> list[Call]:
    name = function.physical(ctx)
    params = {
        "FunctionName": name,
        "Runtime": desired["Runtime"],
        "Role": desired["Role"],
        "Handler": desired["Handler"],
        "Code": {"ZipFile": function.package},
        "Architectures": desired["Architectures"],
        "Timeout": desired["Timeout"],
        "MemorySize": desired["MemorySize"],
        "Environment": {"Variables": desired["Environment"]},
    }
    return [
        Call("lambda", "create_function", params, waiter="function_active_v2", waiter_params={"FunctionName": name})
    ]


def _function_update(function: Function, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
    name = function.physical(ctx)
    calls = []
    # The architecture is a property of the code package: UpdateFunctionCode changes it.
    new_architecture = desired["Architectures"] != current.get("Architectures")
    if desired["CodeSha256"] != current.get("CodeSha256") or new_architecture:
        calls.append(
            Call(
                "lambda",
                "update_function_code",
                {"FunctionName": name, "ZipFile": function.package, "Architectures": desired["Architectures"]},
                waiter="function_updated_v2",
                waiter_params={"FunctionName": name},
            )
        )
    config_keys = ("Handler", "Runtime", "Timeout", "MemorySize", "Environment", "Role")
    if any(desired[k] != current.get(k) for k in config_keys):
        params = {k: desired[k] for k in config_keys if k != "Environment"}
        params["Environment"] = {"Variables": desired["Environment"]}
        calls.append(
            Call(
                "lambda",
                "update_function_configuration",
                {"FunctionName": name, **params},
                waiter="function_updated_v2",
                waiter_params={"FunctionName": name},
            )
        )
    return calls


def _function_delete(function: Function, ctx: Context, current: State) -> list[Call]:
    return [Call("lambda", "delete_function", {"FunctionName": function.physical(ctx)}, gone_ok=True)]


def _permission_create(permission: Permission, stack: Stack, ctx: Context, desired: State) -> list[Call]:
    params = {
        "FunctionName": ctx.name(permission.function),
        "StatementId": permission.statement_id,
        "Action": "lambda:InvokeFunction",
        "Principal": desired["Principal"],
        "SourceArn": desired["SourceArn"],
    }
    if permission.principal == "s3.amazonaws.com":
        params["SourceAccount"] = ctx.account  # bucket ARNs carry no account
    return [Call("lambda", "add_permission", params)]


def _permission_update(
    permission: Permission, stack: Stack, ctx: Context, desired: State, current: State
) -> list[Call]:
    return _permission_delete(permission, ctx, current) + _permission_create(permission, stack, ctx, desired)


def _permission_delete(permission: Permission, ctx: Context, current: State) -> list[Call]:
    return [
        Call(
            "lambda",
            "remove_permission",
            {"FunctionName": ctx.name(permission.function), "StatementId": permission.statement_id},
            gone_ok=True,
        )
    ]


def _machine_create(machine: StateMachine, stack: Stack, ctx: Context, desired: State) -> list[Call]:
    params = {
        "name": machine.physical(ctx),
        "definition": desired["definition"],
        "roleArn": desired["roleArn"],
        "type": machine.type,
    }
    return [Call("stepfunctions", "create_state_machine", params)]


def _machine_update(machine: StateMachine, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
    if desired["type"] != current.get("type"):
        return _machine_delete(machine, ctx, current) + _machine_create(machine, stack, ctx, desired)
    params = {"stateMachineArn": machine.arn(ctx), "definition": desired["definition"], "roleArn": desired["roleArn"]}
    return [Call("stepfunctions", "update_state_machine", params)]


def _machine_delete(machine: StateMachine, ctx: Context, current: State) -> list[Call]:
    return [Call("stepfunctions", "delete_state_machine", {"stateMachineArn": machine.arn(ctx)}, gone_ok=True)]


def _rule_create(rule: Rule, stack: Stack, ctx: Context, desired: State) -> list[Call]:
    name = rule.physical(ctx)
    return [
        Call("events", "put_rule", {"Name": name, "EventPattern": desired["pattern"], "State": "ENABLED"}),
        Call("events", "put_targets", {"Rule": name, "Targets": rule_targets(rule, stack, ctx)}),
    ]


def _rule_update(rule: Rule, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
    return _rule_create(rule, stack, ctx, desired)


def _rule_delete(rule: Rule, ctx: Context, current: State) -> list[Call]:
    name = rule.physical(ctx)
    return [
        Call("events", "remove_targets", {"Rule": name, "Ids": ["target"]}, gone_ok=True),
        Call("events", "delete_rule", {"Name": name}, gone_ok=True),
    ]


def _api_create(api: RestApi, stack: Stack, ctx: Context, desired: State) -> list[Call]:
    calls = [
        Call(
            "apigateway",
            "create_rest_api",
            {"name": api.physical(ctx), "endpointConfiguration": {"types": ["REGIONAL"]}},
            save={"api_id": "id"},
        ),
        Call(
            "apigateway",
            "get_resources",
            {"restApiId": Saved("api_id")},
            save={"root_id": "items[?path=='/'].id | [0]"},
        ),
        Call(
            "apigateway",
            "create_resource",
            {"restApiId": Saved("api_id"), "parentId": Saved("root_id"), "pathPart": api.path},
            save={"resource_id": "id"},
        ),
        Call(
            "apigateway",
            "put_method",
            {
                "restApiId": Saved("api_id"),
                "resourceId": Saved("resource_id"),
                "httpMethod": api.method,
                "authorizationType": "NONE",
            },
        ),
    ]
    return calls + _api_integration(api, stack, ctx, desired)


def _api_integration(api: RestApi, stack: Stack, ctx: Context, desired: State) -> list[Call]:
    function = stack.get(api.function)
    api_id = Saved("api_id")
    return [
        Call(
            "apigateway",
            "put_integration",
            {
                "restApiId": api_id,
                "resourceId": Saved("resource_id"),
                "httpMethod": api.method,
                "type": "AWS_PROXY",
                "integrationHttpMethod": "POST",
                "uri": desired["integration"],
            },
        ),
        Call(
            "lambda",
            "add_permission",
            {
                "FunctionName": function.physical(ctx),
                "StatementId": f"testbed-{api.name}",
                "Action": "lambda:InvokeFunction",
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": Saved("api_id", ctx.arn("execute-api", f"{{}}/*/{api.method}/{api.path}")),
            },
        ),
        Call("apigateway", "create_deployment", {"restApiId": api_id, "stageName": api.stage}),
    ]


def _api_update(api: RestApi, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
    # The existing API is replaced: it is one method, and its id is not part of any other resource.
    return _api_delete(api, ctx, current) + _api_create(api, stack, ctx, desired)


def _api_delete(api: RestApi, ctx: Context, current: State) -> list[Call]:
    return [
        Call(
            "lambda",
            "remove_permission",
            {"FunctionName": ctx.name(api.function), "StatementId": f"testbed-{api.name}"},
            gone_ok=True,
        ),
        Call("apigateway", "delete_rest_api", {"restApiId": current["_id"]}, gone_ok=True),
    ]


CREATE: dict[type[Resource], Builder] = {
    Role: _role_create,
    Table: _table_create,
    Queue: _queue_create,
    Topic: _topic_create,
    RuntimeTopic: _topic_create,
    Stream: _stream_create,
    Bucket: _bucket_create,
    Function: _function_create,
    Permission: _permission_create,
    StateMachine: _machine_create,
    Rule: _rule_create,
    RestApi: _api_create,
}
UPDATE: dict[type[Resource], Updater] = {
    Role: _role_update,
    Table: _table_update,
    Queue: _queue_update,
    Bucket: _bucket_update,
    Function: _function_update,
    Permission: _permission_update,
    StateMachine: _machine_update,
    Rule: _rule_update,
    RestApi: _api_update,
}
DELETE: dict[type[Resource], Deleter] = {
    Role: _role_delete,
    Table: _table_delete,
    Queue: _queue_delete,
    Topic: _topic_delete,
    RuntimeTopic: _topic_delete,
    Stream: _stream_delete,
    Bucket: _bucket_delete,
    Function: _function_delete,
    Permission: _permission_delete,
    StateMachine: _machine_delete,
    Rule: _rule_delete,
    RestApi: _api_delete,
}
