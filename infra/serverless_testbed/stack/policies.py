"""Least-privilege IAM policies, generated from the stack model.

A role's policy is the sum of what the stack's resources grant it (`Resource.role_statements`):
a function its own log group and its declared grants, a rule the start of its target,
an event source mapping the reads of its source. A state machine's policy is derived
from its ASL here: every Task's service integration becomes the one action it calls on
the one resource its parameters name. `*` is a resource only where AWS offers nothing
narrower (List* calls).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol

from serverless_testbed.stack.resource import Context, Document, Statement, allow
from serverless_testbed.stack.stack import Stack, StackError, role_owner

# Actions that AWS authorizes on "*" only.
_UNSCOPED = re.compile(r"^(kinesis:ListStreams|sns:ListTopics|s3:ListAllMyBuckets|sqs:ListQueues)$")
_OPTIMIZED = {
    "dynamodb:putItem": "dynamodb:PutItem",
    "dynamodb:getItem": "dynamodb:GetItem",
    "dynamodb:deleteItem": "dynamodb:DeleteItem",
    "dynamodb:updateItem": "dynamodb:UpdateItem",
    "sns:publish": "sns:Publish",
    "sqs:sendMessage": "sqs:SendMessage",
}


class Assumable(Protocol):
    """A role, as far as its policies go."""

    @property
    def name(self) -> str: ...

    def trust_policy(self) -> Document: ...


def policy_document(stack: Stack, role: Assumable, ctx: Context) -> Document:
    """The inline policy of `role`: what the stack's resources say it needs, nothing else
    (each resource's `role_statements`: a function's own log group and declared grants, a state
    machine's ASL, an event source mapping's reads of its source...)."""
    statements = [
        statement
        for resource in stack.resources
        for owner, statement in resource.role_statements(stack, ctx)
        if owner == role.name
    ]
    return {"Version": "2012-10-17", "Statement": _merge(statements)}


def trust_policy(stack: Stack, role: Assumable, ctx: Context) -> Document:
    """Who may assume `role`: its one service principal, acting for this account only.

    Where AWS recommends it against the confused deputy, the service must act for this
    account (`aws:SourceAccount`) and for the resource the role belongs to
    (`aws:SourceArn`: the owner's `trust_source_arn`; a state machine's role names the
    account's state machines, as the Step Functions guide does). A function's execution
    role has no such condition: Lambda documents none for it.
    """
    document = role.trust_policy()
    owner = role_owner(stack, role.name)
    source_arn = owner.trust_source_arn(ctx) if owner else None
    if source_arn:
        for statement in document["Statement"]:
            statement["Condition"] = {
                "StringEquals": {"aws:SourceAccount": ctx.account},
                "ArnLike": {"aws:SourceArn": source_arn},
            }
    return document


def state_machine_statements(
    definition: Document, ctx: Context, declared: dict[str, list[str]] | None = None, own_arn: str = ""
) -> Iterator[Document]:
    """One statement per Task integration found anywhere in `definition`.

    `declared` gives the resources of actions whose parameters are computed at run time;
    an action neither derivable nor declared is an error, never a wildcard.
    """
    declared = declared or {}
    for state in _states(definition):
        try:
            if state.get("Type") == "Task":
                yield from _task_statements(state, ctx)
            if state.get("Type") == "Map":
                yield from _map_statements(state, ctx, own_arn)
        except DynamicParameter as err:
            if err.action not in declared:
                raise StackError(
                    f"{err}; declare its resources in the state machine's grants so that the role "
                    "can be limited to them"
                ) from err
            yield allow([err.action], declared[err.action])


def _map_statements(state: Document, ctx: Context, own_arn: str) -> Iterator[Document]:
    reader = state.get("ItemReader") or {}
    if reader:
        yield from _sdk_statements("s3", _action(reader["Resource"]), reader.get("Parameters", {}), ctx)
    processor = state.get("ItemProcessor") or {}
    if processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED" and own_arn:
        # A Distributed Map runs its iterations as child executions of the same machine.
        yield allow(["states:StartExecution"], [own_arn])
        executions = own_arn.replace(":stateMachine:", ":execution:") + "/*"
        yield allow(["states:DescribeExecution", "states:StopExecution"], [executions])


def _states(definition: Document) -> Iterator[Document]:
    for state in definition.get("States", {}).values():
        yield state
        for nested in (state.get("Iterator"), state.get("ItemProcessor")):
            if nested:
                yield from _states(nested)
        for branch in state.get("Branches", []):
            yield from _states(branch)


def _action(resource: str) -> str:
    return resource.rsplit(":", 1)[-1]


def _task_statements(state: Document, ctx: Context) -> Iterator[Document]:
    resource: str = state["Resource"]
    params: Document = state.get("Parameters", {})
    if ":lambda:" in resource and ":function:" in resource:
        yield allow(["lambda:InvokeFunction"], _versions(resource))
        return
    integration = resource.split(":::", 1)[-1] if ":::" in resource else ""
    base = integration.split(".")[0]  # lambda:invoke.waitForTaskToken -> lambda:invoke
    if base == "lambda:invoke":
        yield allow(["lambda:InvokeFunction"], _versions(_static(params, "FunctionName", "lambda:InvokeFunction")))
    elif base.startswith("dynamodb:") and base in _OPTIMIZED:
        table = _static(params, "TableName", _OPTIMIZED[base])
        yield allow([_OPTIMIZED[base]], [ctx.arn("dynamodb", f"table/{table}")])
    elif base == "sns:publish":
        yield allow(["sns:Publish"], [_static(params, "TopicArn", "sns:Publish")])
    elif base == "sqs:sendMessage":
        url = _static(params, "QueueUrl", "sqs:SendMessage")
        yield allow(["sqs:SendMessage"], [ctx.arn("sqs", url.rstrip("/").rsplit("/", 1)[-1])])
    elif base.startswith("states:startExecution"):
        machine = _static(params, "StateMachineArn", "states:StartExecution")
        executions = machine.replace(":stateMachine:", ":execution:") + ":*"
        yield allow(["states:StartExecution"], [machine])
        if integration != "states:startExecution":
            yield allow(["states:DescribeExecution", "states:StopExecution"], [executions])
            managed_rule = ctx.arn("events", "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")
            yield allow(["events:PutTargets", "events:PutRule", "events:DescribeRule"], [managed_rule])
    elif base.startswith("aws-sdk:"):
        _, service, action = base.split(":")
        yield from _sdk_statements(service, action, params, ctx)
    else:
        raise StackError(f"no policy rule for integration {resource}")


def _sdk_statements(service: str, action: str, params: Document, ctx: Context) -> Iterator[Document]:
    iam_action = f"{service}:{action[0].upper()}{action[1:]}"
    if _UNSCOPED.match(iam_action):
        yield allow([iam_action], ["*"])
    elif service == "s3":
        if action == "copyObject":
            source = _static(params, "CopySource", iam_action)
            yield allow(["s3:GetObject"], [f"arn:{ctx.partition}:s3:::{source.split('/', 1)[0]}/*"])
            iam_action = "s3:PutObject"
        bucket = _static(params, "Bucket", iam_action)
        yield allow([iam_action], [f"arn:{ctx.partition}:s3:::{bucket}/*"])
    elif service == "kinesis":
        stream = _static(params, "StreamName", iam_action)
        yield allow([iam_action], [ctx.arn("kinesis", f"stream/{stream}")])
    elif service == "sns":
        if "TopicArn" in params or "TopicArn.$" in params:
            yield allow([iam_action], [_static(params, "TopicArn", iam_action)])
        else:
            yield allow([iam_action], [ctx.arn("sns", _static(params, "Name", iam_action))])
    elif service == "dynamodb":
        table = _static(params, "TableName", iam_action)
        yield allow([iam_action], [ctx.arn("dynamodb", f"table/{table}")])
    elif service == "sqs":
        # SendMessageBatch and DeleteMessageBatch are authorized as their single forms.
        iam_action = iam_action.removesuffix("Batch")
        url = _static(params, "QueueUrl", iam_action)
        yield allow([iam_action], [ctx.arn("sqs", url.rstrip("/").rsplit("/", 1)[-1])])
    else:
        raise StackError(f"no policy rule for aws-sdk:{service}:{action}")


class DynamicParameter(StackError):
    """The resource of an action is computed at run time (a `.$` parameter)."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(message)
        self.action = action


def _static(params: Document, key: str, where: str) -> str:
    """A parameter the policy can be scoped by; computed (`.$`) ones raise DynamicParameter."""
    if key in params:
        return str(params[key])
    if f"{key}.$" in params or not params or any(k.endswith(".$") for k in params):
        raise DynamicParameter(where, f"{where}: {key} is computed at run time")
    raise StackError(f"{where}: no {key} parameter")


def _versions(function_arn: str) -> list[str]:
    base = function_arn.split(":function:")[0] + ":function:" + function_arn.split(":function:")[1].split(":")[0]
    return [base, f"{base}:*"]


def _merge(statements: list[Document]) -> list[Document]:
    """Statements with the same actions are merged, so each action appears once."""
    merged: dict[tuple[str, ...], set[str]] = {}
    for statement in statements:
        merged.setdefault(tuple(statement["Action"]), set()).update(statement["Resource"])
    return [
        {"Effect": "Allow", "Action": list(actions), "Resource": sorted(resources)}
        for actions, resources in sorted(merged.items())
    ]


def all_actions(document: Document) -> set[str]:
    return {action for statement in document["Statement"] for action in statement["Action"]}


__all__ = ["Statement", "all_actions", "policy_document", "state_machine_statements", "trust_policy"]
