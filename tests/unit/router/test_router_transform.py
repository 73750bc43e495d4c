"""The ETL branch's transform (rules, reading, the handler against fake S3 and DynamoDB)
and the streaming branch's subscription feed."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from serverless_testbed.lambda_code import load

rules = load("router_transform", "rules")
reading = load("router_transform", "reading")
fetch = load("router_fetch", "handler")
GOOD = {"subscriptionId": "s1", "country": "US", "platform": "Max", "plan": "basic", "price": "9.99", "currency": "USD"}


@pytest.mark.parametrize(
    ("usd", "tier"), [("7.99", "budget"), ("8.00", "standard"), ("14.99", "standard"), ("15", "premium")]
)
def test_tiers_follow_the_price_in_usd(usd: str, tier: str) -> None:
    assert rules.curate(GOOD | {"price": usd})["tier"] == tier


def test_currency_codes_are_normalised_and_prices_converted() -> None:
    row = GOOD | {"country": "GB", "currency": " gbp ", "price": "10", "plan": "Premium", "platform": " Netflix "}
    assert rules.check(row) == []
    curated = rules.curate(row)
    expected = {"currency": "GBP", "price": "10.00", "priceUsd": "12.70", "tier": "standard", "plan": "premium"}
    assert {name: curated[name] for name in expected} == expected, curated
    assert curated["platform"] == "Netflix"


@pytest.mark.parametrize(
    ("change", "reasons"),
    [
        ({"country": None, "price": "abc"}, ["missing-field:country", "bad-price"]),
        ({"currency": ""}, ["missing-field:currency"]),
        (
            {"country": "XX", "currency": "DOGE", "plan": "ultra"},
            ["unknown-country", "unknown-currency", "unknown-plan"],
        ),
        ({"price": "-1"}, ["non-positive-price"]),
        ({"price": "0.00"}, ["non-positive-price"]),
        ({"price": True}, ["bad-price"]),
        ({"price": "NaN"}, ["bad-price"]),
    ],
)
def test_a_row_is_rejected_with_every_reason_that_applies(change: dict[str, Any], reasons: list[str]) -> None:
    assert rules.check(GOOD | change) == reasons


def test_curate_refuses_a_row_check_rejects() -> None:
    with pytest.raises(ValueError, match="valid rows only"):
        rules.curate(GOOD | {"price": "free"})


def test_json_lines_keep_their_line_numbers_and_broken_lines_stay_alone() -> None:
    text = '{"a": 1}\n\n{"a": \n[1, 2]\n{"a": 3}\n'
    rows = reading.read_rows(text, "jsonl")
    assert [(line, row) for line, row, _ in rows] == [(1, {"a": 1}), (3, None), (4, None), (5, {"a": 3})]
    assert rows[1][2] == '{"a": ', "a malformed row keeps its raw text"


def test_csv_rows_are_read_line_by_line_under_the_header() -> None:
    text = 'id,price\n1,"9,99"\n2,"unclosed\n3\n\n4,5.00\n'
    rows = reading.read_rows(text, "csv")
    assert [(line, row) for line, row, _ in rows] == [
        (2, {"id": "1", "price": "9,99"}),
        (3, None),  # an unclosed quote breaks its own line only
        (4, None),  # too few cells
        (6, {"id": "4", "price": "5.00"}),
    ]


@pytest.mark.parametrize("header", ["id,id", ""])
def test_a_csv_header_must_name_each_column_once(header: str) -> None:
    with pytest.raises(ValueError, match="header"):
        reading.read_rows(f"{header}\n1,2\n", "csv")


def test_the_format_follows_the_key() -> None:
    assert [reading.file_format(key) for key in ("raw/a.csv", "raw/a.CSV", "raw/a.jsonl", "raw/a")] == [
        "csv",
        "csv",
        "jsonl",
        "jsonl",
    ]


class FakeS3:
    """get_object and put_object, with boto3's parameter names."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "missing"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[Key])}

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:
        self.objects[Key] = Body


class FakeDynamoDB:
    """Leaves the last item of a batch unprocessed `throttle` times in a row."""

    def __init__(self, throttle: int = 0) -> None:
        self.throttle = throttle
        self.calls: list[int] = []
        self.items: dict[str, dict[str, Any]] = {}

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        (table, requests), *_ = RequestItems.items()
        self.calls.append(len(requests))
        kept, left = (requests[:-1], requests[-1:]) if self.throttle else (requests, [])
        self.throttle = max(self.throttle - 1, 0)
        for request in kept:
            item = request["PutRequest"]["Item"]
            self.items[item["subscriptionId"]["S"]] = item
        return {"UnprocessedItems": {table: left} if left else {}}


def handler_with(
    objects: dict[str, bytes], dynamodb: FakeDynamoDB, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, FakeS3]:
    handler = load("router_transform", "handler")
    s3 = FakeS3(objects)
    handler._clients.update({"s3": s3, "dynamodb": dynamodb})
    monkeypatch.setenv("TABLE_NAME", "curated")
    return handler, s3


def test_the_handler_writes_curated_and_rejected_rows_and_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [GOOD | {"subscriptionId": f"s{n}"} for n in range(60)]
    rows[10] = rows[10] | {"currency": "DOGE"}
    rows[20] = rows[20] | {"subscriptionId": "s3"}  # s3 was curated already
    text = "\n".join(json.dumps(row) for row in rows) + '\n{"cut'
    dynamodb = FakeDynamoDB()
    handler, s3 = handler_with({"raw/in.jsonl": text.encode()}, dynamodb, monkeypatch)

    answer = handler.handler({"bucket": "b", "rawKey": "raw/in.jsonl", "runId": "r1"}, None)

    assert answer == {
        "total": 61,
        "curated": 58,
        "rejected": 3,
        "curated_key": "curated/in-r1.jsonl",
        "rejected_key": "rejected/in-r1.jsonl",
    }
    rejected = [json.loads(line) for line in s3.objects["rejected/in-r1.jsonl"].decode().splitlines()]
    assert [(r["line"], r["reasons"]) for r in rejected] == [
        (11, ["unknown-currency"]),
        (21, ["duplicate-subscriptionId"]),
        (61, ["malformed-line"]),
    ]
    assert rejected[2]["row"] == '{"cut', "a malformed line is kept as it was"
    curated = [json.loads(line) for line in s3.objects["curated/in-r1.jsonl"].decode().splitlines()]
    assert len(curated) == len(dynamodb.items) == 58
    assert dynamodb.calls == [25, 25, 8], f"expected batches of at most 25, saw {dynamodb.calls}"
    assert dynamodb.items["s4"]["sourceLine"] == {"N": "5"}
    assert dynamodb.items["s4"]["priceUsd"] == {"S": "9.99"}


def test_unprocessed_items_are_written_again(monkeypatch: pytest.MonkeyPatch) -> None:
    dynamodb = FakeDynamoDB(throttle=2)
    handler, _ = handler_with({}, dynamodb, monkeypatch)
    handler.store("curated", [rules.curate(GOOD | {"subscriptionId": f"s{n}"}) for n in range(3)], backoff=0)
    assert (dynamodb.calls, sorted(dynamodb.items)) == ([3, 1, 1], ["s0", "s1", "s2"])


def test_items_dynamodb_never_takes_are_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    dynamodb = FakeDynamoDB(throttle=100)
    handler, _ = handler_with({}, dynamodb, monkeypatch)
    with pytest.raises(RuntimeError, match="left 1 curated rows unprocessed after 8 attempts"):
        handler.store("curated", [rules.curate(GOOD)], backoff=0)


def test_a_missing_or_unreadable_raw_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    handler, _ = handler_with({"raw/bin.jsonl": b"\xff\xfe"}, FakeDynamoDB(), monkeypatch)
    with pytest.raises(FileNotFoundError, match=re.escape("s3://b/raw/none.jsonl")):
        handler.handler({"bucket": "b", "rawKey": "raw/none.jsonl", "runId": "r"}, None)
    with pytest.raises(ValueError, match=re.escape("s3://b/raw/bin.jsonl is not UTF-8")):
        handler.handler({"bucket": "b", "rawKey": "raw/bin.jsonl", "runId": "r"}, None)


def test_the_feed_answers_like_an_http_api() -> None:
    answer = fetch.handler({"country": "JP", "seed": 2}, None)
    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert {plan["currency"] for plan in body["plans"]} == {"JPY"}
    assert len(body["plans"]) == len(fetch.PLATFORMS) * len(fetch.PLANS) == 15
    assert answer == fetch.handler({"country": "JP", "seed": "2"}, None), "same seed, same feed"
    assert answer != fetch.handler({"country": "JP", "seed": 3}, None), "another seed, other prices"
    assert json.loads(fetch.handler({"country": "JP"}, None)["body"])["seed"] == 0


@pytest.mark.parametrize(
    ("event", "status", "says"),
    [
        ({"country": "ZZ", "seed": 2}, 404, "no subscription data for country 'ZZ'"),
        ({"country": "US", "seed": "two"}, 400, "seed must be a whole number, got 'two'"),
        ({"country": "US", "seed": 1.5}, 400, "seed must be a whole number"),
        ({"country": "US", "seed": True}, 400, "seed must be a whole number"),
    ],
)
def test_the_feed_refuses_what_it_cannot_answer(event: dict[str, Any], status: int, says: str) -> None:
    answer = fetch.handler(event, None)
    body = json.loads(answer["body"])
    assert (answer["statusCode"], body["plans"]) == (status, []), answer
    assert says in body["error"], body["error"]
