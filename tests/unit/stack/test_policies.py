"""Generated IAM policies: least privilege, derived from the model and the ASL."""

from __future__ import annotations

import fnmatch
import json
import warnings
from typing import Any

import pytest
from serverless_testbed.registry import stack_for, workflows
from serverless_testbed.stack.model import Context, Function, Role, StateMachine
from serverless_testbed.stack.policies import policy_document, state_machine_statements, trust_policy
from serverless_testbed.stack.stack import Stack, StackError

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


@pytest.mark.parametrize("workflow", sorted(workflows()))
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


@pytest.mark.parametrize("workflow", sorted(workflows()))
def test_each_state_machine_policy_covers_exactly_its_integrations(workflow: str) -> None:
    stack = stack_for([workflow])
    for machine in stack.of_kind(StateMachine):
        definition = machine.definition(stack, CTX)
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
    bucket = "arn:aws:s3:::tb-sales-landing-123456789012-eu-west-1"
    assert {(a, r) for a, r in granted if a.startswith("s3:")} == {
        ("s3:GetObject", f"{bucket}/incoming/*"),
        ("s3:PutObject", f"{bucket}/parsed/*"),
        ("s3:ListBucket", bucket),
    }
    assert {a for a, _ in granted} == {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
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


# parliament's findings accepted, each with its reason: (role, issue, action) -> why; "*" is any role.
ACCEPTED_FINDINGS = {
    # The streaming branch creates its SNS topic when it first runs (docs/workflows.md); parliament
    # ranks sns:CreateTopic as permissions management because a topic can be created with a policy.
    # The grant names that one topic's ARN only.
    ("streaming-branch-role", "PERMISSIONS_MANAGEMENT_ACTIONS", "sns:createtopic"): "run-time topic",
    # AWS lists two resource types for DescribeExecution, `execution` (Standard workflows) and
    # `express`; parliament wants both matched. Every machine here is Standard: granting
    # `express:` ARNs too would widen the policy for nothing.
    ("*", "RESOURCE_MISMATCH", "states:DescribeExecution"): "standard workflows only",
}


def lint(document: dict[str, Any]) -> list[tuple[str, str]]:
    """parliament's findings on an identity policy, community auditors included: (issue, what)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources, deprecated by setuptools
        from parliament import analyze_policy_string

    policy = analyze_policy_string(json.dumps(document), include_community_auditors=True)
    return [(finding.issue, json.dumps([finding.detail, finding.location], default=str)) for finding in policy.findings]


def accepted(role: str, issue: str, what: str) -> bool:
    return any(
        rule_role in ("*", role) and rule_issue == issue and action in what
        for rule_role, rule_issue, action in ACCEPTED_FINDINGS
    )


@pytest.mark.parametrize("workflow", sorted(workflows()))
def test_every_derived_policy_passes_the_iam_linter(workflow: str) -> None:
    findings = [
        (role, issue, what)
        for role, document in documents(stack_for([workflow])).items()
        for issue, what in lint(document)
        if not accepted(role, issue, what)
    ]
    assert not findings, "\n".join(f"{role}: {issue} {what}" for role, issue, what in findings)


def test_the_linter_finds_what_it_should() -> None:
    # ListBucket names a bucket, not its objects: the shape of a mistake the linter must catch.
    wrong = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::b/*"]}],
    }
    assert [issue for issue, _ in lint(wrong)] == ["RESOURCE_MISMATCH"], lint(wrong)
    assert not accepted("any-role", "RESOURCE_MISMATCH", "s3:ListBucket"), "only the listed findings are accepted"
    roles = set(documents(stack_for()))
    assert {role for role, _, _ in ACCEPTED_FINDINGS} - {"*"} <= roles, "an accepted finding names no role"


@pytest.mark.parametrize(("workflow", "trigger"), [("sales", "incoming/"), ("csv-etl", "source/")])
def test_no_role_can_write_where_its_workflow_is_triggered(workflow: str, trigger: str) -> None:
    stack = stack_for([workflow])
    writes = {
        (role, resource)
        for role, document in documents(stack).items()
        for statement in document["Statement"]
        if "s3:PutObject" in statement["Action"]
        for resource in statement["Resource"]
    }
    assert writes, f"{workflow}: no role writes objects at all"
    triggering = {(role, r) for role, r in writes if fnmatch.fnmatchcase(f"{r.split('/', 1)[0]}/{trigger}x", r)}
    assert not triggering, f"these grants would let a function re-trigger its own pipeline: {triggering}"


def test_sales_parse_and_csv_load_write_only_their_own_prefix() -> None:
    granted = documents(stack_for(["sales", "csv-etl"]))
    puts = {
        role: {
            r.split(":::", 1)[1].split("/", 1)[1]
            for s in document["Statement"]
            if "s3:PutObject" in s["Action"]
            for r in s["Resource"]
        }
        for role, document in granted.items()
    }
    assert puts["sales-parse-role"] == {"parsed/*"}
    assert puts["csv-load-role"] == {"error/*"}


def test_service_roles_may_be_assumed_only_for_this_account() -> None:
    stack = stack_for()
    seen = set()
    for role in stack.of_kind(Role):
        owner = stack.get(role.name.removesuffix("-role"))
        (statement,) = trust_policy(stack, role, CTX)["Statement"]
        condition = statement.get("Condition")
        if isinstance(owner, Function):
            # Lambda documents no confused-deputy condition for an execution role.
            assert condition is None, (role.name, condition)
            continue
        seen.add(type(owner).__name__)
        assert condition["StringEquals"] == {"aws:SourceAccount": "123456789012"}, (role.name, condition)
        expected = (
            "arn:aws:states:eu-west-1:123456789012:stateMachine:*"
            if isinstance(owner, StateMachine)
            else owner.arn(CTX)
        )
        assert condition["ArnLike"] == {"aws:SourceArn": expected}, (role.name, condition)
    assert seen == {"StateMachine", "Rule"}, seen
