"""Least-privilege IAM policies, generated from the stack model.

A function's policy is its declared grants plus its own log group. A state machine's
policy is derived from its ASL: every Task's service integration becomes the one action
it calls on the one resource its parameters name. A rule's role may start its target
only. `*` is a resource only where AWS offers nothing narrower (List* calls).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from serverless_testbed.stack.model import Context, Function, Role, Rule, StateMachine, Statement
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
Document = dict[str, Any]


def policy_document(stack: Stack, role: Role, ctx: Context) -> Document:
    """The inline policy of `role`: what its owner needs and nothing else."""
    owner = role_owner(stack, role)
    if isinstance(owner, Function):
        statements = list(_function_statements(stack, owner, ctx))
    elif isinstance(owner, StateMachine):
        declared = {
            action: [stack.resolve(r, ctx) for r in grant.resources]
            for grant in owner.grants
            for action in grant.actions
        }
        statements = list(state_machine_statements(stack.definition(owner, ctx), ctx, declared, owner.arn(ctx)))
    elif isinstance(owner, Rule):
        target = stack.get(owner.target)
        statements = [_allow(["states:StartExecution"], [target.arn(ctx)])]
    else:
        statements = [_allow(list(s.actions), [stack.resolve(r, ctx) for r in s.resources]) for s in role.statements]
    return {"Version": "2012-10-17", "Statement": _merge(statements)}


def trust_policy(stack: Stack, role: Role, ctx: Context) -> Document:
    """Who may assume `role`: its one service principal, acting for this account only.

    Where AWS recommends it against the confused deputy, the service must act for this
    account (`aws:SourceAccount`) and, for a rule's role, for that rule (`aws:SourceArn`); a
    state machine's role names the account's state machines, as the Step Functions guide
    does. A function's execution role has no such condition: Lambda documents none for it.
    """
    document = role.trust_policy()
    owner = role_owner(stack, role)
    source_arn = ""
    if isinstance(owner, StateMachine):
        source_arn = ctx.arn("states", "stateMachine:*")
    elif isinstance(owner, Rule):
        source_arn = owner.arn(ctx)
    if source_arn:
        for statement in document["Statement"]:
            statement["Condition"] = {
                "StringEquals": {"aws:SourceAccount": ctx.account},
                "ArnLike": {"aws:SourceArn": source_arn},
            }
    return document


def _function_statements(stack: Stack, function: Function, ctx: Context) -> Iterator[Document]:
    group = f"/aws/lambda/{function.physical(ctx)}"
    yield _allow(["logs:CreateLogGroup"], [ctx.arn("logs", f"log-group:{group}")])
    yield _allow(["logs:CreateLogStream", "logs:PutLogEvents"], [ctx.arn("logs", f"log-group:{group}:*")])
    for grant in function.grants:
        yield _allow(list(grant.actions), [stack.resolve(r, ctx) for r in grant.resources])


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
            yield _allow([err.action], declared[err.action])


def _map_statements(state: Document, ctx: Context, own_arn: str) -> Iterator[Document]:
    reader = state.get("ItemReader") or {}
    if reader:
        yield from _sdk_statements("s3", _action(reader["Resource"]), reader.get("Parameters", {}), ctx)
    processor = state.get("ItemProcessor") or {}
    if processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED" and own_arn:
        # A Distributed Map runs its iterations as child executions of the same machine.
        yield _allow(["states:StartExecution"], [own_arn])
        executions = own_arn.replace(":stateMachine:", ":execution:") + "/*"
        yield _allow(["states:DescribeExecution", "states:StopExecution"], [executions])


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
        yield _allow(["lambda:InvokeFunction"], _versions(resource))
        return
    integration = resource.split(":::", 1)[-1] if ":::" in resource else ""
    base = integration.split(".")[0]  # lambda:invoke.waitForTaskToken -> lambda:invoke
    if base == "lambda:invoke":
        yield _allow(["lambda:InvokeFunction"], _versions(_static(params, "FunctionName", "lambda:InvokeFunction")))
    elif base.startswith("dynamodb:") and base in _OPTIMIZED:
        table = _static(params, "TableName", _OPTIMIZED[base])
        yield _allow([_OPTIMIZED[base]], [ctx.arn("dynamodb", f"table/{table}")])
    elif base == "sns:publish":
        yield _allow(["sns:Publish"], [_static(params, "TopicArn", "sns:Publish")])
    elif base == "sqs:sendMessage":
        url = _static(params, "QueueUrl", "sqs:SendMessage")
        yield _allow(["sqs:SendMessage"], [ctx.arn("sqs", url.rstrip("/").rsplit("/", 1)[-1])])
    elif base.startswith("states:startExecution"):
        machine = _static(params, "StateMachineArn", "states:StartExecution")
        executions = machine.replace(":stateMachine:", ":execution:") + ":*"
        yield _allow(["states:StartExecution"], [machine])
        if integration != "states:startExecution":
            yield _allow(["states:DescribeExecution", "states:StopExecution"], [executions])
            managed_rule = ctx.arn("events", "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")
            yield _allow(["events:PutTargets", "events:PutRule", "events:DescribeRule"], [managed_rule])
    elif base.startswith("aws-sdk:"):
        _, service, action = base.split(":")
        yield from _sdk_statements(service, action, params, ctx)
    else:
        raise StackError(f"no policy rule for integration {resource}")


def _sdk_statements(service: str, action: str, params: Document, ctx: Context) -> Iterator[Document]:
    iam_action = f"{service}:{action[0].upper()}{action[1:]}"
    if _UNSCOPED.match(iam_action):
        yield _allow([iam_action], ["*"])
    elif service == "s3":
        if action == "copyObject":
            source = _static(params, "CopySource", iam_action)
            yield _allow(["s3:GetObject"], [f"arn:{ctx.partition}:s3:::{source.split('/', 1)[0]}/*"])
            iam_action = "s3:PutObject"
        bucket = _static(params, "Bucket", iam_action)
        yield _allow([iam_action], [f"arn:{ctx.partition}:s3:::{bucket}/*"])
    elif service == "kinesis":
        stream = _static(params, "StreamName", iam_action)
        yield _allow([iam_action], [ctx.arn("kinesis", f"stream/{stream}")])
    elif service == "sns":
        if "TopicArn" in params or "TopicArn.$" in params:
            yield _allow([iam_action], [_static(params, "TopicArn", iam_action)])
        else:
            yield _allow([iam_action], [ctx.arn("sns", _static(params, "Name", iam_action))])
    elif service == "dynamodb":
        table = _static(params, "TableName", iam_action)
        yield _allow([iam_action], [ctx.arn("dynamodb", f"table/{table}")])
    elif service == "sqs":
        # SendMessageBatch and DeleteMessageBatch are authorized as their single forms.
        iam_action = iam_action.removesuffix("Batch")
        url = _static(params, "QueueUrl", iam_action)
        yield _allow([iam_action], [ctx.arn("sqs", url.rstrip("/").rsplit("/", 1)[-1])])
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


def _allow(actions: list[str], resources: list[str]) -> Document:
    return {"Effect": "Allow", "Action": sorted(set(actions)), "Resource": sorted(set(resources))}


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
