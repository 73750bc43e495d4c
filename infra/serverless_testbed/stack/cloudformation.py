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

from serverless_testbed.packaging import code_sha256
from serverless_testbed.settings import DEFAULT_PREFIX, MAX_PREFIX, PREFIX_PATTERN
from serverless_testbed.stack.resource import Context, Resource
from serverless_testbed.stack.stack import Stack

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
LINT_BEFORE_PACKAGE = {"W3002": "function Code and layer Content are local paths, for `aws cloudformation package`"}


def artifact_key(resource: Any) -> str:
    """Where a function's or layer's zip file lies, relative to the template (`aws cloudformation
    package` uploads it)."""
    folder = "functions" if resource.kind == "function" else f"{resource.kind}s"
    return f"{folder}/{resource.name}-{code_sha256(resource.artifact()).replace('/', '_').replace('+', '-')[:16]}.zip"


def artifacts(stack: Stack) -> dict[str, bytes]:
    """Artifact path -> zip bytes of every function and layer, written beside the template."""
    return {artifact_key(r): r.artifact() for r in stack.resources if hasattr(r, "artifact")}


def made_at_run_time(resource: Resource) -> bool:
    """Made by a workflow when it runs (the router's stream and topic), so not in the template."""
    return resource.made_at_run_time


def stack_name(prefix: str) -> str:
    """The CloudFormation stack the printed commands deploy."""
    return f"{prefix}-testbed"


def template(stack: Stack, prefix: str = DEFAULT_PREFIX, description: str = "serverless-testbed workflows") -> Template:
    """The CloudFormation template of `stack`; `prefix` is the `Prefix` parameter's default."""
    ctx = CFN_CONTEXT
    resources: dict[str, Any] = {}
    for resource in stack.resources:
        if not resource.made_at_run_time:
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
        found.update(resource.outputs(ctx, logical_id(resource)))
    subbed: dict[str, Any] = _sub(found)
    return subbed


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

    lines = [line for resource in stack.resources for line in resource.teardown(output, logical_id(resource))]
    lines.append(f"aws cloudformation delete-stack --stack-name {name}")
    lines.append(f"aws cloudformation wait stack-delete-complete --stack-name {name}")
    return lines


def _resource(resource: Resource, stack: Stack, ctx: Context) -> dict[str, Any]:
    body = resource.cloudformation(stack, ctx)
    extra = body.pop("_extra", {})
    entry: dict[str, Any] = {"Type": body.pop("Type"), "Properties": _sub(body)}
    if resource.stateful:
        entry.update(STATEFUL_POLICY)
    if depends := _depends_on(resource, stack, _referenced(entry)):
        entry["DependsOn"] = depends
    return {logical_id(resource): entry, **_sub(extra)}


def _depends_on(resource: Resource, stack: Stack, referenced: set[str]) -> list[str]:
    """Names are mostly plain strings in the template, so CloudFormation cannot infer the
    order; what a Ref or GetAtt names it orders itself (cfn-lint W3005)."""
    return sorted({logical_id(stack.get(name)) for name in resource.depends_on(stack)} - referenced)


def _referenced(value: Any) -> set[str]:
    """The logical ids `value` names in a Ref or Fn::GetAtt."""
    if isinstance(value, dict):
        found = {str(value["Ref"])} if "Ref" in value else set()
        if "Fn::GetAtt" in value:
            found.add(str(value["Fn::GetAtt"][0]))
        return found.union(*(_referenced(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_referenced(item) for item in value))
    return set()


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
