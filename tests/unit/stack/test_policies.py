"""Generated IAM policies: least privilege, derived from the model and the ASL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.stack.model import Context, Role, StateMachine
from infra.stack.policies import policy_document, state_machine_statements
from infra.stack.stack import Stack, StackError
from infra.workflows import WORKFLOWS, stack_for

CTX = Context(prefix="tb", account="123456789012", region="eu-west-1")
UNSCOPED_ACTIONS = {"kinesis:ListStreams", "sns:ListTopics"}


def documents(stack: Stack) -> dict[str, dict[str, Any]]:
    return {role.name: policy_document(stack, role, CTX) for role in stack.of_kind(Role)}


def integrations(definition: dict[str, Any]) -> set[str]:
    """Every Task resource and ItemReader in the ASL, however deeply nested."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("Type") == "Task" or "ReaderConfig" in node:
                found.add(node["Resource"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(definition)
    return found


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS))
def test_no_wildcard_action_and_wildcard_resources_only_where_aws_requires(workflow: str) -> None:
    for role, document in documents(stack_for([workflow])).items():
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            assert not any("*" in action for action in statement["Action"]), f"{role}: {statement}"
            if "*" in statement["Resource"]:
                assert set(statement["Action"]) <= UNSCOPED_ACTIONS, f"{role}: '*' for {statement['Action']}"
            for resource in statement["Resource"]:
                assert resource == "*" or ":123456789012:" in resource or resource.startswith("arn:aws:s3:::tb-"), (
                    f"{role}: {resource} is not in the deployment's account"
                )


def expected_actions(definition: dict[str, Any]) -> set[str]:
    """The IAM actions the ASL's integrations need, read independently of policies.py."""
    actions: set[str] = set()
    for resource in integrations(definition):
        if ":function:" in resource:
            actions.add("lambda:InvokeFunction")
            continue
        parts = resource.split(":::")[1].split(".")[0].split(":")
        service, action = (parts[1], parts[2]) if parts[0] == "aws-sdk" else (parts[0], parts[1])
        if (service, action) == ("lambda", "invoke"):
            actions.add("lambda:InvokeFunction")
        elif service == "states" and resource.endswith(("sync", "sync:2")):
            actions |= {"states:StartExecution", "states:DescribeExecution", "states:StopExecution"}
            actions |= {"events:PutTargets", "events:PutRule", "events:DescribeRule"}
        else:
            actions.add(f"{service}:{action[0].upper()}{action[1:]}".removesuffix("Batch"))
    if '"Mode": "DISTRIBUTED"' in json.dumps(definition):
        actions |= {"states:StartExecution", "states:DescribeExecution", "states:StopExecution"}
    return actions


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS))
def test_each_state_machine_policy_covers_exactly_its_integrations(workflow: str) -> None:
    stack = stack_for([workflow])
    for machine in stack.of_kind(StateMachine):
        definition = stack.definition(machine, CTX)
        document = policy_document(stack, stack.get(machine.role_name), CTX)  # type: ignore[arg-type]
        granted = {action for statement in document["Statement"] for action in statement["Action"]}
        assert granted == expected_actions(definition), f"{machine.name}: granted {sorted(granted)}"


def test_the_customer_orders_role_is_exactly_what_its_asl_calls() -> None:
    stack = stack_for(["orders"])
    document = policy_document(stack, stack.get("customer-orders-role"), CTX)  # type: ignore[arg-type]
    granted = {(a, r) for s in document["Statement"] for a in s["Action"] for r in s["Resource"]}
    table = "arn:aws:dynamodb:eu-west-1:123456789012:table/tb-orders-table"
    function = "arn:aws:lambda:eu-west-1:123456789012:function:tb-check-transaction"
    assert granted == {
        ("dynamodb:PutItem", table),
        ("dynamodb:DeleteItem", table),
        ("lambda:InvokeFunction", function),
        ("lambda:InvokeFunction", function + ":*"),
        ("sns:Publish", "arn:aws:sns:eu-west-1:123456789012:tb-order-notifications"),
    }


def test_a_function_gets_its_log_group_and_its_grants_only() -> None:
    stack = stack_for(["sales"])
    document = policy_document(stack, stack.get("sales-parse-role"), CTX)  # type: ignore[arg-type]
    granted = {(a, r) for s in document["Statement"] for a in s["Action"] for r in s["Resource"]}
    assert ("s3:GetObject", "arn:aws:s3:::tb-sales-landing-123456789012-eu-west-1/*") in granted
    assert ("s3:PutObject", "arn:aws:s3:::tb-sales-landing-123456789012-eu-west-1/*") in granted
    assert {a for a, _ in granted} == {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:GetObject",
        "s3:PutObject",
    }


def test_a_run_time_resource_without_a_declared_grant_is_refused() -> None:
    definition = {
        "StartAt": "Write",
        "States": {
            "Write": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:batchWriteItem",
                "Parameters": {"RequestItems.$": "$.items"},
                "End": True,
            }
        },
    }
    with pytest.raises(StackError, match="declare its resources"):
        list(state_machine_statements(definition, CTX))
    declared = {"dynamodb:BatchWriteItem": ["arn:aws:dynamodb:eu-west-1:123456789012:table/t"]}
    statements = list(state_machine_statements(definition, CTX, declared))
    assert statements == [
        {"Effect": "Allow", "Action": ["dynamodb:BatchWriteItem"], "Resource": declared["dynamodb:BatchWriteItem"]}
    ]


def test_policy_documents_are_valid_json_iam() -> None:
    for document in documents(stack_for()).values():
        text = json.dumps(document)
        assert json.loads(text)["Version"] == "2012-10-17"
