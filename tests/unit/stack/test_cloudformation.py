"""The CloudFormation export: generated from the model, accepted by cfn-lint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cfnlint.api import lint_all

from infra.stack.cloudformation import artifact_key, artifacts, logical_id, template
from infra.stack.model import Function, Resource, RuntimeTopic, Stream
from infra.workflows import stack_for


def test_the_whole_stack_passes_cfn_lint_without_errors(tmp_path: Path) -> None:
    text = json.dumps(template(stack_for()), indent=1)
    matches = lint_all(text)
    errors = [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id.startswith("E")]
    assert errors == [], "\n".join(errors)


def test_every_deployed_resource_is_in_the_template_and_nothing_assumes_an_account() -> None:
    stack = stack_for()
    resources = template(stack)["Resources"]
    for resource in stack.resources:
        if _made_at_run_time(resource):
            assert logical_id(resource) not in resources
        else:
            assert logical_id(resource) in resources, f"{resource.kind} {resource.name} is missing"
    text = json.dumps(resources)
    assert "000000000000" not in text
    assert "us-east-1" not in text


def test_function_code_is_referenced_in_the_artifact_bucket() -> None:
    stack = stack_for(["orders"])
    function = stack.get("check-transaction")
    assert isinstance(function, Function)
    code = template(stack)["Resources"][logical_id(function)]["Properties"]["Code"]
    assert code == {"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": artifact_key(function)}
    assert artifacts(stack)[artifact_key(function)] == function.package


@pytest.mark.parametrize("workflow", ["orders", "sales"])
def test_roles_exist_before_what_assumes_them(workflow: str) -> None:
    stack = stack_for([workflow])
    resources = template(stack)["Resources"]
    for resource in stack.resources:
        role = getattr(resource, "role_name", None)
        if role and logical_id(resource) in resources:
            assert logical_id(stack.get(role)) in resources[logical_id(resource)]["DependsOn"]


def _made_at_run_time(resource: Resource) -> bool:
    return isinstance(resource, RuntimeTopic) or (isinstance(resource, Stream) and resource.created_by_workflow)
