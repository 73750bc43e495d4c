"""Event source mappings: Lambda polls an SQS queue, a Kinesis stream or a DynamoDB table's
stream and invokes a function with batches of its records."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.errors import StackError
from serverless_testbed.stack.calls import Call, Deferred, Saved
from serverless_testbed.stack.resource import Context, Document, Ref, Resource, State, allow, canonical_json
from serverless_testbed.stack.stack import Stack
from serverless_testbed.waiting import wait_for

# What the function's role must be allowed for Lambda to read each kind of source, as the
# Lambda developer guide lists them ("Execution role permissions" of "Using Lambda with
# Amazon SQS", "... Kinesis", "... DynamoDB"; the managed policies AWSLambdaSQSQueueExecutionRole,
# AWSLambdaKinesisExecutionRole and AWSLambdaDynamoDBExecutionRole hold the same actions).
READ_ACTIONS: dict[str, tuple[str, ...]] = {
    "queue": ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"),
    "stream": (
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
        "kinesis:SubscribeToShard",
    ),
    "table": ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"),
}
# How long a new mapping may take to go from Creating to Enabled (seconds on AWS).
ENABLED_WITHIN_SECONDS = 120.0


@dataclass(frozen=True)
class EventSourceMapping(Resource):
    """`source` (a Queue, Stream or Table with a stream, by logical name) feeds `function`.

    `batch_size` records at most per invoke, gathered for up to `batching_window` seconds;
    `starting_position` (streams only) TRIM_HORIZON reads what the stream already holds;
    `report_failures` lets the function answer `batchItemFailures` so that only those
    records are retried (ReportBatchItemFailures); `filters` are EventBridge-style patterns
    a record must match to be sent at all (the others are dropped, as on AWS)."""

    source: str = ""
    function: str = ""
    batch_size: int = 10
    batching_window: int = 0
    starting_position: str = "TRIM_HORIZON"
    report_failures: bool = False
    filters: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    kind = "event-source-mapping"
    services = ("lambda", "dynamodb")

    def arn(self, ctx: Context) -> str:
        raise StackError(f"event source mapping {self.name}: its ARN is AWS's to choose (a UUID)")

    def refs(self) -> Iterator[Ref]:
        yield Ref(self.source)
        yield Ref(self.function)

    def depends_on(self, stack: Stack) -> set[str]:
        # Lambda checks the source exists and that the function's role may read it.
        function = stack.get(self.function)
        return {self.source, self.function, function.role_name}

    def _source_kind(self, stack: Stack) -> str:
        kind = stack.get(self.source).kind
        if kind not in READ_ACTIONS:
            raise StackError(
                f"event source mapping {self.name}: a {kind} cannot feed a function (queue, stream or table)"
            )
        if kind == "table" and not getattr(stack.get(self.source), "stream", None):
            raise StackError(f"event source mapping {self.name}: table {self.source} has no stream (Table(stream=...))")
        return kind

    def _polled(self, stack: Stack) -> bool:
        return self._source_kind(stack) != "queue"

    def role_statements(self, stack: Stack, ctx: Context) -> Iterator[tuple[str, Document]]:
        kind = self._source_kind(stack)
        source = stack.get(self.source).arn(ctx)
        resource = f"{source}/stream/*" if kind == "table" else source
        yield stack.get(self.function).role_name, allow(READ_ACTIONS[kind], [resource])

    def desired(self, stack: Stack, ctx: Context) -> State:
        state: State = {
            "Source": stack.get(self.source).arn(ctx),
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.batching_window,
            "FunctionResponseTypes": ["ReportBatchItemFailures"] if self.report_failures else [],
            "FilterCriteria": canonical_json(self._filter_criteria()),
        }
        if self._polled(stack):
            state["StartingPosition"] = self.starting_position
        return state

    def _filter_criteria(self) -> dict[str, Any]:
        return {"Filters": [{"Pattern": canonical_json(pattern)} for pattern in self.filters]} if self.filters else {}

    def read(self, clients: Clients, ctx: Context) -> State | None:
        function = ctx.name(self.function)
        source = ctx.name(self.source)
        for page in clients("lambda").get_paginator("list_event_source_mappings").paginate(FunctionName=function):
            for found in page.get("EventSourceMappings", []):
                arn = found.get("EventSourceArn", "")
                table_stream = ":table/" in arn and arn.split(":table/", 1)[1].split("/", 1)[0] == source
                if arn.rsplit(":", 1)[-1] == source or arn.endswith(f"/{source}") or table_stream:
                    return self._state(found)
        return None

    @staticmethod
    def _state(found: Mapping[str, Any]) -> State:
        arn = found["EventSourceArn"]
        filters = found.get("FilterCriteria") or {}
        state: State = {
            "Source": arn.split("/stream/", 1)[0] if ":dynamodb:" in arn else arn,
            "BatchSize": found.get("BatchSize"),
            "MaximumBatchingWindowInSeconds": found.get("MaximumBatchingWindowInSeconds", 0),
            "FunctionResponseTypes": found.get("FunctionResponseTypes") or [],
            "FilterCriteria": canonical_json(
                {"Filters": [{"Pattern": canonical_json(json.loads(f["Pattern"]))} for f in filters["Filters"]]}
                if filters.get("Filters")
                else {}
            ),
            "_uuid": found["UUID"],
        }
        if found.get("StartingPosition"):
            state["StartingPosition"] = found["StartingPosition"]
        return state

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        params: dict[str, Any] = {
            "FunctionName": ctx.name(self.function),
            "EventSourceArn": self._source_arn(stack, ctx),
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.batching_window,
            "Enabled": True,
        }
        if self.report_failures:
            params["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
        if self.filters:
            params["FilterCriteria"] = self._filter_criteria()
        if self._polled(stack):
            params["StartingPosition"] = self.starting_position
        return [
            Call("lambda", "create_event_source_mapping", params, save={"uuid": "UUID"}),
            Call("lambda", "wait_enabled", {"UUID": Saved("uuid")}, run=wait_enabled),
        ]

    def _source_arn(self, stack: Stack, ctx: Context) -> Any:
        source = stack.get(self.source)
        if source.kind != "table":
            return source.arn(ctx)
        table = source.physical(ctx)

        def latest_stream(clients: Any) -> str:  # its label is the time DynamoDB made it
            return str(clients("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"])

        return Deferred(f"table {table}'s stream ARN", latest_stream)

    def update(self, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
        if desired.get("StartingPosition") != current.get("StartingPosition") or desired["Source"] != current.get(
            "Source"
        ):
            return self.delete(ctx, current) + self.create(stack, ctx, desired)
        params = {
            "UUID": current["_uuid"],
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.batching_window,
            "FunctionResponseTypes": desired["FunctionResponseTypes"],
            "FilterCriteria": self._filter_criteria() or {"Filters": []},
        }
        return [Call("lambda", "update_event_source_mapping", params)]

    def delete(self, ctx: Context, current: State) -> list[Call]:
        return [Call("lambda", "delete_event_source_mapping", {"UUID": current["_uuid"]}, gone_ok=True)]

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        from serverless_testbed.stack.cloudformation import logical_id

        source = stack.get(self.source)
        arn: Any = {"Fn::GetAtt": [logical_id(source), "StreamArn"]} if source.kind == "table" else source.arn(ctx)
        props: dict[str, Any] = {
            "Type": "AWS::Lambda::EventSourceMapping",
            "FunctionName": ctx.name(self.function),
            "EventSourceArn": arn,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.batching_window,
            "Enabled": True,
        }
        if self.report_failures:
            props["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
        if self.filters:
            props["FilterCriteria"] = self._filter_criteria()
        if self._polled(stack):
            props["StartingPosition"] = self.starting_position
        return props


def wait_enabled(client: Any, UUID: str) -> dict[str, Any]:
    """Until the new mapping is Enabled (AWS: Creating, then Enabled within seconds to a minute)."""

    def settled() -> dict[str, Any] | None:
        found: dict[str, Any] = client.get_event_source_mapping(UUID=UUID)
        return found if found.get("State") in ("Enabled", "Disabled") else None

    found = wait_for(
        settled, timeout=ENABLED_WITHIN_SECONDS, interval=0.05, what=f"event source mapping {UUID} to be Enabled"
    )
    if found["State"] != "Enabled":
        raise StackError(f"event source mapping {UUID} is {found['State']}: {found.get('StateTransitionReason')}")
    return found
