"""The resource kinds real pipelines use most, each deployed and working end to end on the
session's engine: a Kinesis stream and a DynamoDB table's stream feeding a function through
event source mappings (with a filter), an SNS topic delivering to a function (with a filter
policy), a layer built from a requirements file, and schedules starting a state machine and
invoking a function. A second deploy plans nothing; destroy leaves nothing; the same stack,
exported as a CloudFormation template, deploys through the engine's CloudFormation and runs.

The stack is a small project of its own (a temporary folder with `src/` and `asl/`), its
resource names under a prefix of this module's.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.engine import Engine
from serverless_testbed.project import use_root
from serverless_testbed.stack import cloudformation
from serverless_testbed.stack.model import (
    EventSourceMapping,
    Function,
    Layer,
    Ref,
    Schedule,
    StateMachine,
    Statement,
    Stream,
    Subscription,
    Table,
    Topic,
)
from serverless_testbed.stack.stack import Stack
from serverless_testbed.waiting import wait_for

from tests.integration.cloudformation.test_exported_stack import aws_cli_env, shell

pytestmark = pytest.mark.slow

TALLY = '''
import json, os, boto3, humanize

TABLE = boto3.resource("dynamodb").Table(os.environ["TALLIES"])


def handler(event, context):
    """One tally item per record that reached this function, named by where it came from."""
    records = event.get("Records") or [{"eventSource": "schedule", "id": event.get("id", "")}]
    for record in records:
        source = record.get("eventSource") or record.get("EventSource")
        if source == "aws:kinesis":
            key = record["kinesis"]["sequenceNumber"]
        elif source == "aws:dynamodb":
            key = record["dynamodb"]["Keys"]["id"]["S"]
        elif source == "aws:sns":
            key = record["Sns"]["MessageId"]
        else:
            key = event.get("id", "") + context.aws_request_id
        TABLE.put_item(Item={"id": f"{source}:{key}", "source": source, "size": humanize.intcomma(1000)})
    return {"batchItemFailures": []}
'''
TICK = {
    "StartAt": "Tally",
    "States": {
        "Tally": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {
                "TableName": "${Tallies}",
                "Item": {"id": {"S.$": "States.Format('schedule-machine:{}', $$.Execution.Name)"},
                         "source": {"S": "schedule-machine"}},
            },
            "End": True,
        }
    },
}  # fmt: skip
DEADLINE = 20.0  # seconds for a record to reach the tallies table (AWS: about a second per hop)
SCHEDULED_WITHIN = 75.0  # a rate(1 minute) schedule fires at the next minute, then every minute


def resources() -> list[Any]:
    return [
        Table("tallies", hash_key="id"),
        Table("ledger", hash_key="id", stream="NEW_IMAGE"),
        Stream("feed", shards=1),
        Topic("alerts"),
        Layer("helpers", requirements="layers/helpers/requirements.txt"),
        Function(
            "tally",
            source="tally",
            timeout=10,
            layers=("helpers",),
            environment={"TALLIES": Ref("tallies", "name")},
            grants=(Statement(("dynamodb:PutItem",), (Ref("tallies"),)),),
        ),
        EventSourceMapping("feed-to-tally", source="feed", function="tally", batch_size=5),
        EventSourceMapping(
            "ledger-to-tally",
            source="ledger",
            function="tally",
            batch_size=5,
            filters=({"eventName": ["INSERT"]},),
            report_failures=True,
        ),
        Subscription("alerts-to-tally", topic="alerts", function="tally", filter_policy={"severity": ["high"]}),
        StateMachine("tick", asl="tick.asl.json", substitutions={"Tallies": Ref("tallies", "name")}),
        Schedule("every-minute", expression="rate(1 minute)", state_machine="tick"),
        Schedule("tally-every-minute", expression="rate(1 minute)", function="tally", input={"id": "scheduled"}),
    ]


def new_deployer(engine: Engine) -> Deployer:
    """A deployer of its own prefix, so that each stack here has names of its own."""
    return Deployer.for_clients(engine.client, f"k{uuid.uuid4().hex[:6]}", engine.region, local=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("kinds-project")
    (root / "src" / "tally").mkdir(parents=True)
    (root / "src" / "tally" / "handler.py").write_text(TALLY)
    (root / "asl").mkdir()
    (root / "asl" / "tick.asl.json").write_text(json.dumps(TICK))
    (root / "layers" / "helpers").mkdir(parents=True)
    (root / "layers" / "helpers" / "requirements.txt").write_text("humanize==4.10.0\n")
    with use_root(root):
        yield root


@pytest.fixture(scope="module")
def deployed(project: Path, testbed_engine: Engine) -> Iterator[tuple[Deployer, Stack]]:
    deployer = Deployer.for_clients(
        testbed_engine.client, f"k{uuid.uuid4().hex[:6]}", testbed_engine.region, local=True
    )
    stack = Stack.of(resources())
    deployer.deploy(stack)
    yield deployer, stack
    deployer.destroy(stack)


def tallies(clients: Clients, deployer: Deployer, stack: Stack, source: str, count: int) -> list[dict[str, Any]]:
    """The tally items from `source`, once there are `count` (or the deadline passed: fails naming what it saw)."""
    table = stack.bind(deployer.ctx).name("tallies")

    def found() -> list[dict[str, Any]] | None:
        items = clients("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
        mine = [item for item in items if item["source"]["S"] == source]
        return mine if len(mine) >= count else None

    deadline = SCHEDULED_WITHIN if source.startswith("schedule") else DEADLINE
    return wait_for(found, timeout=deadline, interval=0.2, what=f"{count} tallies from {source} in {table}")


def test_a_second_deploy_plans_nothing(deployed: tuple[Deployer, Stack]) -> None:
    deployer, stack = deployed
    assert deployer.plan(stack) == []


def test_kinesis_records_reach_the_function(deployed: tuple[Deployer, Stack], aws: Clients) -> None:
    deployer, stack = deployed
    name = stack.bind(deployer.ctx).name("feed")
    for index in range(3):
        aws("kinesis").put_record(StreamName=name, Data=json.dumps({"n": index}).encode(), PartitionKey=str(index))
    items = tallies(aws, deployer, stack, "aws:kinesis", 3)
    assert len(items) == 3
    assert {item["size"]["S"] for item in items} == {"1,000"}  # humanize, from the layer built from requirements


def test_table_stream_inserts_pass_the_filter_and_modifications_do_not(
    deployed: tuple[Deployer, Stack], aws: Clients
) -> None:
    deployer, stack = deployed
    table = stack.bind(deployer.ctx).name("ledger")
    for key in ("a", "b"):
        aws("dynamodb").put_item(TableName=table, Item={"id": {"S": key}, "v": {"N": "1"}})
    aws("dynamodb").put_item(TableName=table, Item={"id": {"S": "a"}, "v": {"N": "2"}})  # MODIFY: filtered out
    items = tallies(aws, deployer, stack, "aws:dynamodb", 2)
    assert sorted(item["id"]["S"] for item in items) == ["aws:dynamodb:a", "aws:dynamodb:b"]


def test_the_topic_delivers_what_its_filter_policy_matches(deployed: tuple[Deployer, Stack], aws: Clients) -> None:
    deployer, stack = deployed
    topic = stack.bind(deployer.ctx).arn("alerts")
    attributes = {"severity": {"DataType": "String", "StringValue": "high"}}
    wanted = aws("sns").publish(TopicArn=topic, Message="disk full", MessageAttributes=attributes)["MessageId"]
    low = {"severity": {"DataType": "String", "StringValue": "low"}}
    aws("sns").publish(TopicArn=topic, Message="disk at 60%", MessageAttributes=low)
    items = tallies(aws, deployer, stack, "aws:sns", 1)
    assert [item["id"]["S"] for item in items] == [f"aws:sns:{wanted}"]


def test_schedules_start_the_state_machine_and_invoke_the_function(
    deployed: tuple[Deployer, Stack], aws: Clients
) -> None:
    deployer, stack = deployed
    assert tallies(aws, deployer, stack, "schedule-machine", 1)
    assert tallies(aws, deployer, stack, "schedule", 1)


def test_destroy_leaves_nothing_and_layers_are_still_listed(project: Path, testbed_engine: Engine) -> None:
    deployer = Deployer.for_clients(
        testbed_engine.client, f"k{uuid.uuid4().hex[:6]}", testbed_engine.region, local=True
    )
    stack = Stack.of(resources())
    deployer.deploy(stack)
    deployer.destroy(stack)
    assert deployer.destroy_plan(stack) == []
    aws = testbed_engine.client
    prefix = deployer.ctx.prefix
    layers = [layer["LayerName"] for layer in aws("lambda").list_layers()["Layers"]]  # AWS lists layers with a version
    assert not [name for name in layers if name.startswith(prefix)]
    assert not [
        m for m in aws("lambda").list_event_source_mappings()["EventSourceMappings"] if prefix in m["FunctionArn"]
    ]
    assert not [s for s in aws("sns").list_subscriptions()["Subscriptions"] if f":{prefix}-" in s["TopicArn"]]
    assert not [r for r in aws("events").list_rules(NamePrefix=prefix)["Rules"]]


def test_the_exported_template_deploys_through_cloudformation_and_runs(
    project: Path, testbed_engine: Engine, tmp_path: Path
) -> None:
    prefix = f"c{uuid.uuid4().hex[:6]}"
    stack = Stack.of(resources())
    template = cloudformation.write(stack, tmp_path / "stack.json")
    env = aws_cli_env(testbed_engine, tmp_path)
    bucket = f"{prefix}-artifacts"
    shell(f"aws s3 mb s3://{bucket}", env)
    try:
        for command in cloudformation.deploy_commands(template, bucket, prefix):
            subprocess.run(command, env=env, cwd=tmp_path, check=True, capture_output=True, text=True, timeout=600)
        found = testbed_engine.client("cloudformation").describe_stacks(StackName=cloudformation.stack_name(prefix))
        assert found["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE", found["Stacks"][0].get("StackStatusReason")
        deployer = Deployer.for_clients(testbed_engine.client, prefix, testbed_engine.region, local=True)
        test_kinesis_records_reach_the_function((deployer, stack), testbed_engine.client)
        test_table_stream_inserts_pass_the_filter_and_modifications_do_not((deployer, stack), testbed_engine.client)
        test_the_topic_delivers_what_its_filter_policy_matches((deployer, stack), testbed_engine.client)
        assert tallies(testbed_engine.client, deployer, stack, "schedule-machine", 1)
    finally:
        for line in cloudformation.teardown_commands(stack, prefix):
            subprocess.run(["bash", "-c", line], env=env, capture_output=True, timeout=600)
        subprocess.run(["bash", "-c", f"aws s3 rb s3://{bucket} --force"], env=env, capture_output=True)
