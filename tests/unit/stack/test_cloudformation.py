"""The CloudFormation export: generated from the model, deployable the documented way
(`aws cloudformation package` + `deploy --s3-bucket`), cfn-lint clean with the
informational rules on, but for the findings the module gives a reason for."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from cfnlint.api import lint_all
from serverless_testbed.registry import stack_for
from serverless_testbed.stack.cloudformation import (
    LINT_BEFORE_PACKAGE,
    LINT_IGNORED,
    artifact_key,
    artifacts,
    deploy_commands,
    logical_id,
    made_at_run_time,
    teardown_commands,
    template,
    write,
)
from serverless_testbed.stack.model import Bucket, Function, Queue, RestApi, StateMachine, Stream, Table

INLINE_LIMIT = 51_200  # bytes CloudFormation takes as --template-body; bigger goes through S3


def test_the_whole_stack_passes_cfn_lint_with_informational_rules_on() -> None:
    text = json.dumps(template(stack_for()), indent=1)
    findings = lint_all(text)
    unexplained = [
        f"{m.rule.id} {m.message} ({m.path})" for m in findings if m.rule.id not in LINT_IGNORED | LINT_BEFORE_PACKAGE
    ]
    assert unexplained == [], "\n".join(unexplained)
    before_package = [m for m in findings if m.rule.id in LINT_BEFORE_PACKAGE]
    assert before_package, "W3002 is gone: the code paths are no longer local, update LINT_BEFORE_PACKAGE"
    assert all(m.path[-1] in ("Code", "Content") for m in before_package), [m.path for m in before_package]


def test_what_is_too_big_to_pass_inline_is_deployed_through_s3(tmp_path: Path) -> None:
    path = write(stack_for(), tmp_path / "stack.json")
    assert path.stat().st_size > INLINE_LIMIT  # why the commands need a bucket at all
    package, deploy = deploy_commands(path, "my-artifacts", "demo")
    assert package[:3] == ["aws", "cloudformation", "package"]
    assert deploy[:3] == ["aws", "cloudformation", "deploy"]
    for command in (package, deploy):
        assert command[command.index("--s3-bucket") + 1] == "my-artifacts"
    assert deploy[deploy.index("--template-file") + 1] == package[package.index("--output-template-file") + 1]
    assert "Prefix=demo" in deploy
    assert "CAPABILITY_NAMED_IAM" in deploy


def test_every_deployed_resource_is_in_the_template_and_nothing_assumes_an_account() -> None:
    stack = stack_for()
    resources = template(stack)["Resources"]
    for resource in stack.resources:
        if made_at_run_time(resource):
            assert logical_id(resource) not in resources
        else:
            assert logical_id(resource) in resources, f"{resource.kind} {resource.name} is missing"
    text = json.dumps(resources)
    assert "000000000000" not in text
    assert "us-east-1" not in text
    assert "arn:aws:" not in text, "an ARN names the aws partition instead of ${AWS::Partition} (I3042)"


def test_function_code_is_a_zip_beside_the_template_for_package_to_upload(tmp_path: Path) -> None:
    stack = stack_for(["orders"])
    function = stack.get("check-transaction")
    assert isinstance(function, Function)
    path = write(stack, tmp_path / "out" / "stack.json")
    written = json.loads(path.read_text())
    code = written["Resources"][logical_id(function)]["Properties"]["Code"]
    assert code == artifact_key(function)
    assert (path.parent / code).read_bytes() == artifacts(stack)[code] == function.package
    assert zipfile.is_zipfile(path.parent / code)


def test_stateful_resources_say_what_happens_to_their_data() -> None:
    stack = stack_for()
    resources = template(stack)["Resources"]
    for resource in stack.resources:
        if isinstance(resource, Table | Queue | Bucket) or (
            isinstance(resource, Stream) and not made_at_run_time(resource)
        ):
            entry = resources[logical_id(resource)]
            assert entry["DeletionPolicy"] == entry["UpdateReplacePolicy"] == "Delete", resource.name


def test_outputs_name_what_a_user_needs_next() -> None:
    stack = stack_for()
    outputs = template(stack)["Outputs"]
    for bucket in stack.of_kind(Bucket):
        assert outputs[f"{logical_id(bucket)}Name"]["Value"] == {"Ref": logical_id(bucket)}
    for machine in stack.of_kind(StateMachine):
        assert outputs[f"{logical_id(machine)}Arn"]["Value"] == {"Ref": logical_id(machine)}
    (api,) = stack.of_kind(RestApi)
    url = outputs[f"{logical_id(api)}Url"]["Value"]["Fn::Sub"]
    assert url.startswith(f"https://${{{logical_id(api)}}}.execute-api.${{AWS::Region}}.")
    assert url.endswith(api.path)
    for resource in filter(made_at_run_time, stack.resources):
        described = [o for key, o in outputs.items() if key.startswith(logical_id(resource))]
        assert len(described) == 1, resource.name
        assert "NOT in this stack" in described[0]["Description"], resource.name


def test_the_removal_lines_take_what_the_router_made_and_empty_the_buckets_first() -> None:
    stack = stack_for()
    lines = teardown_commands(stack, "demo")
    assert lines[-2:] == [
        "aws cloudformation delete-stack --stack-name demo-testbed",
        "aws cloudformation wait stack-delete-complete --stack-name demo-testbed",
    ]
    assert sum(line.startswith("aws s3 rm ") for line in lines) == len(stack.of_kind(Bucket))
    assert any(line.startswith("aws kinesis delete-stream ") for line in lines)
    assert any(line.startswith("aws sns delete-topic ") for line in lines)


@pytest.mark.parametrize("workflow", ["orders", "sales"])
def test_roles_exist_before_what_assumes_them(workflow: str) -> None:
    stack = stack_for([workflow])
    resources = template(stack)["Resources"]
    for resource in stack.resources:
        if resource.role_service and logical_id(resource) in resources:
            assert logical_id(stack.get(resource.role_name)) in resources[logical_id(resource)]["DependsOn"]
