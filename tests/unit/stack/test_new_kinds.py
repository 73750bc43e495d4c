"""The kinds pipelines feed each other with, without an engine: what each implies for the
roles and policies around it, what it refuses, and its CloudFormation form."""

from __future__ import annotations

import json

import pytest
from serverless_testbed.errors import StackError
from serverless_testbed.stack.cloudformation import logical_id, template
from serverless_testbed.stack.model import (
    Context,
    EventSourceMapping,
    Function,
    Queue,
    Schedule,
    StateMachine,
    Stream,
    Subscription,
    Table,
    Topic,
)
from serverless_testbed.stack.policies import all_actions, policy_document
from serverless_testbed.stack.stack import Stack, creation_order

CTX = Context(prefix="tb", account="123456789012", region="eu-west-1")


def test_a_mapping_grants_its_function_exactly_the_reads_of_its_source() -> None:
    stack = Stack.of(
        [
            Queue("q"),
            Stream("s"),
            Table("t", stream="NEW_IMAGE"),
            Function("f", source="check_transaction"),
            EventSourceMapping("from-q", source="q", function="f"),
            EventSourceMapping("from-s", source="s", function="f"),
            EventSourceMapping("from-t", source="t", function="f"),
        ]
    )
    document = policy_document(stack, stack.get("f-role"), CTX)  # type: ignore[arg-type]
    by_resource = {resource: set(s["Action"]) for s in document["Statement"] for resource in s["Resource"]}
    assert by_resource["arn:aws:sqs:eu-west-1:123456789012:tb-q"] == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    assert "kinesis:GetRecords" in by_resource["arn:aws:kinesis:eu-west-1:123456789012:stream/tb-s"]
    assert by_resource["arn:aws:dynamodb:eu-west-1:123456789012:table/tb-t/stream/*"] == {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    }
    assert not any(action.startswith("dynamodb:PutItem") for action in all_actions(document))


def test_a_mapping_comes_after_its_source_its_function_and_the_functions_role() -> None:
    stack = Stack.of(
        [EventSourceMapping("m", source="q", function="f"), Function("f", source="check_transaction"), Queue("q")]
    )
    order = [r.name for r in creation_order(stack)]
    assert order.index("m") > max(order.index("q"), order.index("f"), order.index("f-role"))


def test_a_table_without_a_stream_cannot_feed_a_function() -> None:
    stack = Stack.of([Table("t"), Function("f", source="x"), EventSourceMapping("m", source="t", function="f")])
    with pytest.raises(StackError, match="table t has no stream"):
        stack.get("m").desired(stack, CTX)


def test_a_subscription_to_a_queue_gives_the_queue_a_policy_for_that_topic_only() -> None:
    stack = Stack.of([Topic("t"), Queue("q"), Subscription("s", topic="t", queue="q", raw=True)])
    policy = json.loads(stack.get("q").desired(stack, CTX)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:eu-west-1:123456789012:tb-t"}}


def test_a_subscription_or_schedule_to_a_function_adds_the_permission_to_invoke_it() -> None:
    stack = Stack.of(
        [
            Topic("t"),
            Function("f", source="x"),
            Subscription("s", topic="t", function="f"),
            Schedule("nightly", expression="cron(0 6 * * ? *)", function="f"),
        ]
    )
    permissions = {r.principal: stack.resolve(r.source_arn, CTX) for r in stack.resources if r.kind == "permission"}  # type: ignore[attr-defined]
    assert permissions == {
        "sns.amazonaws.com": "arn:aws:sns:eu-west-1:123456789012:tb-t",
        "events.amazonaws.com": "arn:aws:events:eu-west-1:123456789012:rule/tb-nightly",
    }
    assert "nightly-role" not in [r.name for r in stack.resources]  # a function target needs no role


def test_a_schedule_of_a_state_machine_gets_a_role_that_may_start_it_only() -> None:
    stack = Stack.of(
        [
            StateMachine(
                "m",
                asl="customer_orders.asl.json",
                substitutions={
                    "OrdersTable": "o",
                    "CheckTransactionArn": "arn:aws:lambda:eu-west-1:123456789012:function:c",
                    "NotificationTopicArn": "arn:aws:sns:eu-west-1:123456789012:n",
                },
            ),
            Schedule("every", expression="rate(5 minutes)", state_machine="m"),
        ]
    )
    document = policy_document(stack, stack.get("every-role"), CTX)  # type: ignore[arg-type]
    assert document["Statement"] == [  # the schedule's role, not the state machine's own
        {
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": ["arn:aws:states:eu-west-1:123456789012:stateMachine:tb-m"],
        }
    ]


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("rate(1 minutes)", "singular for 1"),
        ("rate(5 minute)", "singular for 1"),
        ("rate(0 minutes)", "at least 1"),
        ("every 5 minutes", "not an EventBridge schedule expression"),
        ("cron(0 6 * *)", "not an EventBridge schedule expression"),
    ],
)
def test_a_schedule_expression_eventbridge_refuses_is_refused_in_words(expression: str, why: str) -> None:
    with pytest.raises(StackError, match=why):
        Schedule("s", expression=expression, function="f")


def test_a_subscription_or_schedule_names_one_target() -> None:
    with pytest.raises(StackError, match="one of the two"):
        Subscription("s", topic="t", queue="q", function="f")
    with pytest.raises(StackError, match="one of the two"):
        Schedule("s", expression="rate(1 hour)")


def test_the_template_forms_of_the_new_kinds() -> None:
    stack = Stack.of(
        [
            Table("t", stream="NEW_IMAGE"),
            Topic("topic"),
            Queue("dead"),
            Queue("q", redrive_to="dead", max_receives=5),
            Function("f", source="check_transaction"),
            EventSourceMapping(
                "m", source="t", function="f", report_failures=True, filters=({"eventName": ["INSERT"]},)
            ),
            Subscription("s", topic="topic", queue="q", filter_policy={"kind": ["order"]}),
            Schedule("every", expression="rate(5 minutes)", function="f", input={"n": 1}),
        ]
    )
    resources = template(stack)["Resources"]
    mapping = resources[logical_id(stack.get("m"))]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [logical_id(stack.get("t")), "StreamArn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["FilterCriteria"] == {"Filters": [{"Pattern": '{"eventName":["INSERT"]}'}]}
    assert resources[logical_id(stack.get("s"))]["Type"] == "AWS::SNS::Subscription"
    assert resources[f"{logical_id(stack.get('q'))}Policy"]["Type"] == "AWS::SQS::QueuePolicy"
    redrive = resources[logical_id(stack.get("q"))]["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == 5
    rule = resources[logical_id(stack.get("every"))]["Properties"]
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["Targets"][0]["Input"] == '{"n":1}'
