"""The desired state of each kind of resource: the flat form the planner compares with
what the target reports (the Remote reads existing resources back in the same shape)."""

from __future__ import annotations

from typing import Any

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
from serverless_testbed.stack.policies import policy_document, trust_policy
from serverless_testbed.stack.stack import Stack

State = dict[str, Any]


def desired_state(resource: Resource, stack: Stack, ctx: Context) -> State:
    match resource:
        case Role():
            return {
                "trust": canonical_json(trust_policy(stack, resource, ctx)),
                "policy": canonical_json(policy_document(stack, resource, ctx)),
            }
        case Table():
            return table_state(resource)
        case Bucket():
            return {"notifications": canonical_json(notification_config(resource, stack, ctx))}
        case Queue():
            return {
                "VisibilityTimeout": str(resource.visibility_timeout),
                "MessageRetentionPeriod": str(resource.retention_seconds),
            }
        case Topic() | Stream():
            return {}
        case Function():
            return {
                "CodeSha256": resource.code_sha256,
                "Handler": resource.handler,
                "Runtime": resource.runtime,
                "Architectures": resource.architectures(ctx),
                "Timeout": resource.timeout,
                "MemorySize": resource.memory,
                "Environment": stack.environment(resource, ctx),
                "Role": stack.get(resource.role_name).arn(ctx),
            }
        case Permission():
            return {"Principal": resource.principal, "SourceArn": stack.resolve(resource.source_arn, ctx)}
        case StateMachine():
            return {
                "definition": canonical_json(stack.definition(resource, ctx)),
                "roleArn": stack.get(resource.role_name).arn(ctx),
                "type": resource.type,
            }
        case Rule():
            return {
                "pattern": canonical_json(stack.resolve_all(resource.pattern, ctx)),
                "targets": canonical_json(rule_targets(resource, stack, ctx)),
            }
        case RestApi():
            return {"integration": integration_uri(stack.get(resource.function), ctx), "stage": resource.stage}
    raise TypeError(f"no desired state for {resource!r}")


def table_state(table: Table) -> State:
    keys = [{"AttributeName": table.hash_key, "KeyType": "HASH"}]
    if table.range_key:
        keys.append({"AttributeName": table.range_key, "KeyType": "RANGE"})
    names = (
        {table.hash_key, table.range_key} | {i.hash_key for i in table.indexes} | {i.range_key for i in table.indexes}
    )
    indexes = []
    for index in sorted(table.indexes, key=lambda i: i.name):
        schema = [{"AttributeName": index.hash_key, "KeyType": "HASH"}]
        if index.range_key:
            schema.append({"AttributeName": index.range_key, "KeyType": "RANGE"})
        indexes.append({"IndexName": index.name, "KeySchema": schema, "Projection": {"ProjectionType": "ALL"}})
    return {
        "KeySchema": keys,
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": table.attribute_type(name)}
            for name in sorted(n for n in names if n)
        ],
        "GlobalSecondaryIndexes": indexes,
        "StreamViewType": table.stream,
    }


def notification_config(bucket: Bucket, stack: Stack, ctx: Context) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if bucket.eventbridge:
        config["EventBridgeConfiguration"] = {}
    functions = []
    for notification in bucket.notifications:
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


def rule_targets(rule: Rule, stack: Stack, ctx: Context) -> list[dict[str, str]]:
    target = {"Id": "target", "Arn": stack.get(rule.target).arn(ctx), "RoleArn": stack.get(rule.role_name).arn(ctx)}
    if rule.input_path:
        target["InputPath"] = rule.input_path
    return [target]


def integration_uri(function: Resource, ctx: Context) -> str:
    return (
        f"arn:{ctx.partition}:apigateway:{ctx.region}:lambda:path/2015-03-31/functions/{function.arn(ctx)}/invocations"
    )
