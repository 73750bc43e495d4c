"""DynamoDB tables, on demand, with global secondary indexes and an optional stream."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from serverless_testbed.batch_write import batch_write
from serverless_testbed.clients import Clients
from serverless_testbed.stack.calls import Call
from serverless_testbed.stack.resource import Context, Resource, State
from serverless_testbed.stack.stack import Stack


@dataclass(frozen=True)
class GlobalIndex:
    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class Table(Resource):
    """A DynamoDB table, on demand; `attributes` maps key attribute names to S/N/B."""

    hash_key: str = "id"
    range_key: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    indexes: tuple[GlobalIndex, ...] = ()
    stream: str | None = None  # NEW_IMAGE, NEW_AND_OLD_IMAGES... or None

    kind = "table"
    services = ("dynamodb",)
    name_limit = ("DynamoDB table", 255)
    stateful = True

    def arn(self, ctx: Context) -> str:
        return ctx.arn("dynamodb", f"table/{self.physical(ctx)}")

    def attribute_type(self, attribute: str) -> str:
        return self.attributes.get(attribute, "S")

    def desired(self, stack: Stack, ctx: Context) -> State:
        keys = [{"AttributeName": self.hash_key, "KeyType": "HASH"}]
        if self.range_key:
            keys.append({"AttributeName": self.range_key, "KeyType": "RANGE"})
        names = (
            {self.hash_key, self.range_key} | {i.hash_key for i in self.indexes} | {i.range_key for i in self.indexes}
        )
        indexes = []
        for index in sorted(self.indexes, key=lambda i: i.name):
            schema = [{"AttributeName": index.hash_key, "KeyType": "HASH"}]
            if index.range_key:
                schema.append({"AttributeName": index.range_key, "KeyType": "RANGE"})
            indexes.append({"IndexName": index.name, "KeySchema": schema, "Projection": {"ProjectionType": "ALL"}})
        return {
            "KeySchema": keys,
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": self.attribute_type(name)}
                for name in sorted(n for n in names if n)
            ],
            "GlobalSecondaryIndexes": indexes,
            "StreamViewType": self.stream,
        }

    def read(self, clients: Clients, ctx: Context) -> State:
        found: Any = clients("dynamodb").describe_table(TableName=self.physical(ctx))["Table"]
        indexes = [
            {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
            for i in sorted(found.get("GlobalSecondaryIndexes", []), key=lambda i: i["IndexName"])
        ]
        stream = found.get("StreamSpecification") or {}
        return {
            "KeySchema": found["KeySchema"],
            "AttributeDefinitions": sorted(found["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
            "GlobalSecondaryIndexes": indexes,
            "StreamViewType": stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
        }

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        name = self.physical(ctx)
        params: dict[str, Any] = {
            "TableName": name,
            "KeySchema": desired["KeySchema"],
            "AttributeDefinitions": desired["AttributeDefinitions"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if desired["GlobalSecondaryIndexes"]:
            params["GlobalSecondaryIndexes"] = desired["GlobalSecondaryIndexes"]
        if self.stream:
            params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.stream}
        return [self._waited("create_table", params)]

    def update(self, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
        if desired["KeySchema"] != current.get("KeySchema"):
            raise ValueError(
                f"table {self.physical(ctx)}: its key schema changed; DynamoDB cannot change keys in place. "
                "Run `testbed destroy` (it deletes the data) and deploy again."
            )
        name = self.physical(ctx)
        calls: list[Call] = []
        if desired["StreamViewType"] != current.get("StreamViewType"):
            if current.get("StreamViewType"):
                calls.append(
                    self._waited("update_table", {"TableName": name, "StreamSpecification": {"StreamEnabled": False}})
                )
            if desired["StreamViewType"]:
                spec = {"StreamEnabled": True, "StreamViewType": desired["StreamViewType"]}
                calls.append(self._waited("update_table", {"TableName": name, "StreamSpecification": spec}))
        existing = {i["IndexName"] for i in current.get("GlobalSecondaryIndexes", [])}
        for index in desired["GlobalSecondaryIndexes"]:
            if index["IndexName"] not in existing:
                params = {
                    "TableName": name,
                    "AttributeDefinitions": desired["AttributeDefinitions"],
                    "GlobalSecondaryIndexUpdates": [{"Create": index}],
                }
                calls.append(self._waited("update_table", params))
        return calls

    def delete(self, ctx: Context, current: State) -> list[Call]:
        name = self.physical(ctx)
        return [
            Call(
                "dynamodb",
                "delete_table",
                {"TableName": name},
                waiter="table_not_exists",
                waiter_params={"TableName": name},
                gone_ok=True,
            )
        ]

    def empty(self, clients: Clients, ctx: Context) -> int:
        """Delete every item; returns how many."""
        dynamodb = clients("dynamodb")
        name = self.physical(ctx)
        keys = [self.hash_key] + ([self.range_key] if self.range_key else [])
        names = {f"#k{i}": key for i, key in enumerate(keys)}
        deleted = 0
        pages = dynamodb.get_paginator("scan").paginate(
            TableName=name, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names, ConsistentRead=True
        )
        for page in pages:
            batch_write(dynamodb, name, [{"DeleteRequest": {"Key": key}} for key in page["Items"]])
            deleted += len(page["Items"])
        return deleted

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        state = self.desired(stack, ctx)
        props: dict[str, Any] = {
            "Type": "AWS::DynamoDB::Table",
            "TableName": self.physical(ctx),
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": state["KeySchema"],
            "AttributeDefinitions": state["AttributeDefinitions"],
        }
        if state["GlobalSecondaryIndexes"]:
            props["GlobalSecondaryIndexes"] = state["GlobalSecondaryIndexes"]
        if self.stream:
            props["StreamSpecification"] = {"StreamViewType": self.stream}
        return props

    def outputs(self, ctx: Context, key: str) -> dict[str, Any]:
        return {f"{key}Name": {"Description": f"DynamoDB table {self.name}", "Value": {"Ref": key}}}

    def _waited(self, operation: str, params: dict[str, Any]) -> Call:
        return Call(
            "dynamodb", operation, params, waiter="table_exists", waiter_params={"TableName": params["TableName"]}
        )
