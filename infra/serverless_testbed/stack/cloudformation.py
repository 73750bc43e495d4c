"""The stack as a CloudFormation template, generated from the same model as deploy.

Names, ARNs and policies are the planner's own, computed with a Context whose account,
region, partition and prefix are CloudFormation expressions (`${AWS::AccountId}`...), so
every string that holds one becomes an `Fn::Sub`; bucket names end in the account and
region there too. `write()` puts the template and the functions' zip files side by
side; each function's `Code` is the zip's path beside the template, which is what
`aws cloudformation package` uploads to an S3 bucket and replaces by its S3 location.
The template is far above the 51,200 bytes CloudFormation takes inline, so
`aws cloudformation deploy --s3-bucket` uploads it to S3 too (up to 1 MB):
`deploy_commands()` are the two commands, printed by `testbed export` and run as they
are by `tests/integration/cloudformation/`. One template rather than nested stacks:
one stack to deploy, watch and delete, and one set of Outputs.

Resources a workflow creates at run time (the router's stream and topic) are not in
the template: the workflow makes them when it first runs, and deleting the stack leaves
them. The Outputs name them, with the commands that remove them (`teardown_commands()`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from serverless_testbed.settings import DEFAULT_PREFIX, MAX_PREFIX, PREFIX_PATTERN
from serverless_testbed.stack.desired import desired_state, notification_config, table_state
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
from serverless_testbed.stack.policies import policy_document, trust_policy
from serverless_testbed.stack.stack import Stack, must_exist_first

CFN_CONTEXT = Context(
    prefix="${Prefix}", account="${AWS::AccountId}", region="${AWS::Region}", partition="${AWS::Partition}"
)
Template = dict[str, Any]


def logical_id(resource: Resource) -> str:
    words = re.split(r"[^A-Za-z0-9]+", f"{resource.name} {resource.kind}")
    return "".join(word[:1].upper() + word[1:] for word in words if word)


# Kept on delete: nothing. The testbed's stack is disposable, as `testbed destroy` is;
# explicit so that no one mistakes it for a default (cfn-lint I3011).
STATEFUL_POLICY = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
# cfn-lint findings (informational rules on) the template keeps, each with its reason.
LINT_IGNORED = {
    "I4010": "asks for a free-text Metadata.com.aws.cloudformation.Context block (architecture notes "
    "for tools) on the template and every resource; it changes nothing deployed, and the notes would be "
    "generated filler: the Description, the Outputs' descriptions and README.md say what the stack is",
}
# Only in the template as exported, gone once `aws cloudformation package` has replaced the code paths.
LINT_BEFORE_PACKAGE = {"W3002": "a function's Code is a local path, for `aws cloudformation package`"}


def artifact_key(function: Function) -> str:
    """Where a function's zip file lies, relative to the template (`aws cloudformation package` uploads it)."""
    return f"functions/{function.name}-{function.code_sha256.replace('/', '_').replace('+', '-')[:16]}.zip"


def artifacts(stack: Stack) -> dict[str, bytes]:
    """Artifact path -> zip bytes of every function, written beside the template."""
    return {artifact_key(f): f.package for f in stack.of_kind(Function)}


def made_at_run_time(resource: Resource) -> bool:
    """Made by a workflow when it runs (the router's stream and topic), so not in the template."""
    return isinstance(resource, RuntimeTopic) or (isinstance(resource, Stream) and resource.created_by_workflow)


def stack_name(prefix: str) -> str:
    """The CloudFormation stack the printed commands deploy."""
    return f"{prefix}-testbed"


def template(stack: Stack, prefix: str = DEFAULT_PREFIX, description: str = "serverless-testbed workflows") -> Template:
    """The CloudFormation template of `stack`; `prefix` is the `Prefix` parameter's default."""
    ctx = CFN_CONTEXT
    resources: dict[str, Any] = {}
    for resource in stack.resources:
        if not made_at_run_time(resource):
            resources.update(_resource(resource, stack, ctx))
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description,
        "Parameters": {
            "Prefix": {
                "Type": "String",
                "Default": prefix,
                "AllowedPattern": PREFIX_PATTERN,
                "MaxLength": MAX_PREFIX,
                "Description": "prefix of every resource name (bucket names also end in the account and region)",
            },
        },
        "Resources": resources,
        "Outputs": outputs(stack, ctx),
    }


def outputs(stack: Stack, ctx: Context) -> dict[str, Any]:
    """What a user needs next: bucket, table and queue names, topic and state machine ARNs,
    the API's URL, and the names of what the workflows create at run time."""
    found: dict[str, Any] = {}
    for resource in stack.resources:
        key = logical_id(resource)
        match resource:
            case Bucket():
                found[f"{key}Name"] = {"Description": f"S3 bucket {resource.name}", "Value": {"Ref": key}}
            case Table():
                found[f"{key}Name"] = {"Description": f"DynamoDB table {resource.name}", "Value": {"Ref": key}}
            case Queue():
                found[f"{key}Url"] = {"Description": f"SQS queue {resource.name}", "Value": {"Ref": key}}
            case StateMachine():
                found[f"{key}Arn"] = {"Description": f"state machine {resource.name}", "Value": {"Ref": key}}
            case RuntimeTopic():
                found[f"{key}Arn"] = {
                    "Description": f"SNS topic {resource.name}, made at run time, NOT in this stack: "
                    "delete it yourself (aws sns delete-topic --topic-arn VALUE)",
                    "Value": _sub(resource.arn(ctx)),
                }
            case Topic():
                found[f"{key}Arn"] = {"Description": f"SNS topic {resource.name}", "Value": {"Ref": key}}
            case Stream() if resource.created_by_workflow:
                found[f"{key}Name"] = {
                    "Description": f"Kinesis stream {resource.name}, made at run time, NOT in this stack: "
                    "delete it yourself (aws kinesis delete-stream --enforce-consumer-deletion --stream-name VALUE)",
                    "Value": _sub(resource.physical(ctx)),
                }
            case RestApi():
                url = f"https://${{{key}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{resource.stage}/{resource.path}"
                found[f"{key}Url"] = {
                    "Description": f"{resource.method} here ({resource.name})",
                    "Value": {"Fn::Sub": url},
                }
    return found


def write(stack: Stack, path: Path) -> Path:
    """The template at `path`, the functions' zip files beside it (`functions/`); `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for key, archive in artifacts(stack).items():
        target = path.parent / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(archive)
    path.write_text(json.dumps(template(stack), indent=1) + "\n")
    return path


def packaged_path(path: Path) -> Path:
    """Where `aws cloudformation package` writes the template it rewrote."""
    return path.with_name(f"{path.stem}.packaged.json")


def deploy_commands(path: Path, bucket: str, prefix: str = DEFAULT_PREFIX) -> list[list[str]]:
    """The AWS CLI commands that deploy what `write()` wrote at `path`: package uploads the
    zip files to `bucket` and points the template at them; deploy uploads the template there
    too (it is over 51,200 bytes) and creates or updates the stack, waiting until it is done."""
    s3 = ["--s3-bucket", bucket, "--s3-prefix", stack_name(prefix)]
    packaged = str(packaged_path(path))
    return [
        ["aws", "cloudformation", "package", "--template-file", str(path), *s3,
         "--output-template-file", packaged, "--use-json"],
        ["aws", "cloudformation", "deploy", "--template-file", packaged, *s3, "--stack-name", stack_name(prefix),
         "--capabilities", "CAPABILITY_NAMED_IAM", "--parameter-overrides", f"Prefix={prefix}",
         "--no-fail-on-empty-changeset"],
    ]  # fmt: skip


def outputs_command(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """The AWS CLI command that prints the stack's Outputs (key, value)."""
    return ["aws", "cloudformation", "describe-stacks", "--stack-name", stack_name(prefix),
            "--query", "Stacks[0].Outputs[].[OutputKey,OutputValue]", "--output", "text"]  # fmt: skip


def teardown_commands(stack: Stack, prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Shell lines (bash) that remove everything, run before the stack is gone since they read
    its Outputs: what the workflows made at run time (outside the stack), the buckets' objects
    (CloudFormation deletes only empty buckets), then the stack, waiting until it is gone."""
    name = stack_name(prefix)

    def output(key: str) -> str:
        query = f"Stacks[0].Outputs[?OutputKey==`{key}`].OutputValue"
        return f"$(aws cloudformation describe-stacks --stack-name {name} --query '{query}' --output text)"

    lines: list[str] = []
    for resource in stack.resources:
        key = logical_id(resource)
        if isinstance(resource, RuntimeTopic):
            lines.append(f'aws sns delete-topic --topic-arn "{output(key + "Arn")}"')
        elif isinstance(resource, Stream) and resource.created_by_workflow:
            lines.append(
                f'aws kinesis delete-stream --enforce-consumer-deletion --stream-name "{output(key + "Name")}"'
            )
        elif isinstance(resource, Bucket):
            lines.append(f'aws s3 rm "s3://{output(key + "Name")}" --recursive')
    lines.append(f"aws cloudformation delete-stack --stack-name {name}")
    lines.append(f"aws cloudformation wait stack-delete-complete --stack-name {name}")
    return lines


def _resource(resource: Resource, stack: Stack, ctx: Context) -> dict[str, Any]:
    body = _properties(resource, stack, ctx)
    extra = body.pop("_extra", {})
    entry: dict[str, Any] = {"Type": body.pop("Type"), "Properties": _sub(body)}
    if isinstance(resource, Table | Queue | Bucket | Stream):
        entry.update(STATEFUL_POLICY)
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
                "AssumeRolePolicyDocument": trust_policy(stack, resource, ctx),
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
                "Code": artifact_key(resource),  # a local path: `aws cloudformation package` uploads it
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
                "DefinitionString": _partitioned(json.dumps(stack.definition(resource, ctx), indent=1)),
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


def _partitioned(text: str) -> str:
    """The ASL's own ARNs (`arn:aws:states:::lambda:invoke`) in the deploying partition (cfn-lint I3042)."""
    return text.replace('"arn:aws:', '"arn:${AWS::Partition}:')


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
