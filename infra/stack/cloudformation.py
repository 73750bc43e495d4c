"""The stack as a CloudFormation template, generated from the same model as deploy.

Names, ARNs and policies are the planner's own, computed with a Context whose account,
region, partition and prefix are CloudFormation expressions (`${AWS::AccountId}`...), so
every string that holds one becomes an `Fn::Sub`. Function code is referenced in an
artifact bucket (parameter `ArtifactBucket`); `artifacts()` gives the zip files to
upload there under the keys the template names.

Resources a workflow creates at run time (the router's stream and topic) are not in
the template; the workflow makes them when it first runs.
"""

from __future__ import annotations

import json
import re
from typing import Any

from infra.stack.desired import desired_state, notification_config, table_state
from infra.stack.model import (
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
from infra.stack.policies import policy_document
from infra.stack.stack import Stack, must_exist_first

CFN_CONTEXT = Context(
    prefix="${Prefix}", account="${AWS::AccountId}", region="${AWS::Region}", partition="${AWS::Partition}"
)
Template = dict[str, Any]


def logical_id(resource: Resource) -> str:
    words = re.split(r"[^A-Za-z0-9]+", f"{resource.name} {resource.kind}")
    return "".join(word[:1].upper() + word[1:] for word in words if word)


def artifact_key(function: Function) -> str:
    return f"functions/{function.name}-{function.code_sha256.replace('/', '_').replace('+', '-')[:16]}.zip"


def artifacts(stack: Stack) -> dict[str, bytes]:
    """Artifact key -> zip bytes of every function, to upload to the artifact bucket."""
    return {artifact_key(f): f.package for f in stack.of_kind(Function)}


def template(stack: Stack, description: str = "serverless-testbed workflows") -> Template:
    ctx = CFN_CONTEXT
    resources: dict[str, Any] = {}
    for resource in stack.resources:
        if isinstance(resource, RuntimeTopic) or (isinstance(resource, Stream) and resource.created_by_workflow):
            continue
        resources.update(_resource(resource, stack, ctx))
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description,
        "Parameters": {
            "Prefix": {
                "Type": "String",
                "Default": "tb",
                "AllowedPattern": "[a-z][a-z0-9-]{0,11}",
                "Description": "prefix of every resource name",
            },
            "ArtifactBucket": {"Type": "String", "Description": "S3 bucket holding the functions' zip files"},
        },
        "Resources": resources,
    }


def _resource(resource: Resource, stack: Stack, ctx: Context) -> dict[str, Any]:
    body = _properties(resource, stack, ctx)
    extra = body.pop("_extra", {})
    entry: dict[str, Any] = {"Type": body.pop("Type"), "Properties": _sub(body)}
    if depends := _depends_on(resource, stack):
        entry["DependsOn"] = depends
    return {logical_id(resource): entry, **extra}


def _depends_on(resource: Resource, stack: Stack) -> list[str]:
    """Names are plain strings in the template, so CloudFormation cannot infer the order."""
    return sorted(logical_id(stack.get(name)) for name in must_exist_first(resource, stack))


def _properties(resource: Resource, stack: Stack, ctx: Context) -> dict[str, Any]:
    name = resource.physical(ctx)
    match resource:
        case Role():
            return {
                "Type": "AWS::IAM::Role",
                "RoleName": name,
                "AssumeRolePolicyDocument": resource.trust_policy(),
                "Policies": [{"PolicyName": "testbed", "PolicyDocument": policy_document(stack, resource, ctx)}],
            }
        case Table():
            state = table_state(resource)
            props: dict[str, Any] = {
                "Type": "AWS::DynamoDB::Table",
                "TableName": name,
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": state["KeySchema"],
                "AttributeDefinitions": state["AttributeDefinitions"],
            }
            if state["GlobalSecondaryIndexes"]:
                props["GlobalSecondaryIndexes"] = state["GlobalSecondaryIndexes"]
            if resource.stream:
                props["StreamSpecification"] = {"StreamViewType": resource.stream}
            return props
        case Bucket():
            config = notification_config(resource, stack, ctx)
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
            props = {"Type": "AWS::S3::Bucket", "BucketName": name}
            if notifications:
                props["NotificationConfiguration"] = notifications
            return props
        case Queue():
            return {
                "Type": "AWS::SQS::Queue",
                "QueueName": name,
                "VisibilityTimeout": resource.visibility_timeout,
                "MessageRetentionPeriod": resource.retention_seconds,
            }
        case Topic():
            return {"Type": "AWS::SNS::Topic", "TopicName": name}
        case Stream():
            return {"Type": "AWS::Kinesis::Stream", "Name": name, "ShardCount": resource.shards}
        case Function():
            state = desired_state(resource, stack, ctx)
            props = {
                "Type": "AWS::Lambda::Function",
                "FunctionName": name,
                "Runtime": resource.runtime,
                "Architectures": resource.architectures(ctx),
                "Handler": resource.handler,
                "Role": state["Role"],
                "Timeout": resource.timeout,
                "MemorySize": resource.memory,
                "Code": {"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": artifact_key(resource)},
            }
            if state["Environment"]:
                props["Environment"] = {"Variables": state["Environment"]}
            return props
        case Permission():
            props = {
                "Type": "AWS::Lambda::Permission",
                "FunctionName": ctx.name(resource.function),
                "Action": "lambda:InvokeFunction",
                "Principal": resource.principal,
                "SourceArn": stack.resolve(resource.source_arn, ctx),
            }
            if resource.principal == "s3.amazonaws.com":
                props["SourceAccount"] = ctx.account
            return props
        case StateMachine():
            return {
                "Type": "AWS::StepFunctions::StateMachine",
                "StateMachineName": name,
                "StateMachineType": resource.type,
                "RoleArn": stack.get(resource.role_name).arn(ctx),
                "DefinitionString": json.dumps(stack.definition(resource, ctx), indent=1),
            }
        case Rule():
            return {
                "Type": "AWS::Events::Rule",
                "Name": name,
                "State": "ENABLED",
                "EventPattern": stack.resolve_all(resource.pattern, ctx),
                "Targets": [
                    {
                        "Id": "target",
                        "Arn": stack.get(resource.target).arn(ctx),
                        "RoleArn": stack.get(resource.role_name).arn(ctx),
                    }
                ],
            }
        case RestApi():
            return _rest_api(resource, stack, ctx)
    raise TypeError(f"no CloudFormation form for {resource!r}")


def _rest_api(api: RestApi, stack: Stack, ctx: Context) -> dict[str, Any]:
    api_id = logical_id(api)
    function = stack.get(api.function)
    uri = (
        f"arn:{ctx.partition}:apigateway:{ctx.region}:lambda:path/2015-03-31/functions/{function.arn(ctx)}/invocations"
    )
    extra = {
        f"{api_id}Resource": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "RestApiId": {"Ref": api_id},
                "ParentId": {"Fn::GetAtt": [api_id, "RootResourceId"]},
                "PathPart": api.path,
            },
        },
        f"{api_id}Method": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "RestApiId": {"Ref": api_id},
                "ResourceId": {"Ref": f"{api_id}Resource"},
                "HttpMethod": api.method,
                "AuthorizationType": "NONE",
                "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST", "Uri": {"Fn::Sub": uri}},
            },
        },
        f"{api_id}Deployment": {
            "Type": "AWS::ApiGateway::Deployment",
            "DependsOn": [f"{api_id}Method"],
            "Properties": {"RestApiId": {"Ref": api_id}, "StageName": api.stage},
        },
        f"{api_id}Permission": {
            "Type": "AWS::Lambda::Permission",
            "DependsOn": [logical_id(function)],
            "Properties": {
                "FunctionName": {"Fn::Sub": function.physical(ctx)},
                "Action": "lambda:InvokeFunction",
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": {"Fn::Sub": ctx.arn("execute-api", f"${{{api_id}}}/*/{api.method}/{api.path}")},
            },
        },
    }
    return {"Type": "AWS::ApiGateway::RestApi", "Name": api.physical(ctx), "_extra": extra}


def _sub(value: Any) -> Any:
    """Strings holding `${...}` become Fn::Sub; everything else is kept as is."""
    if isinstance(value, str):
        return {"Fn::Sub": value} if "${" in value else value
    if isinstance(value, dict):
        if set(value) <= {"Ref", "Fn::GetAtt", "Fn::Sub"} and value:
            return value
        return {key: _sub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_sub(item) for item in value]
    return value
