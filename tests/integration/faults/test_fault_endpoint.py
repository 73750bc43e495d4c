"""The engine's fault endpoint refuses what would break it, each refusal a 400 naming the
field and the rule, and the engine goes on answering as before."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from serverless_testbed.errors import BadInput
from serverless_testbed.faults import FAULTS_PATH, FaultsClient, UnknownRule


def post(endpoint: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(endpoint + FAULTS_PATH, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (json.dumps({"service": "sqs", "latency_ms": 10**16}).encode(), "'latency_ms' must be at most 900000"),
        (b"[" * 100_000 + b"]" * 100_000, "nested 100000 deep"),
        (json.dumps({"service": "sqs", "error": "X", "id": "a/b"}).encode(), "'id' must be 1 to 64"),
        (json.dumps({"service": "sqs", "error": "X", "count": 0}).encode(), "'count' must be at least 1"),
        (json.dumps({"service": "sqs", "error": "X", "probability": 2}).encode(), "'probability' must be in [0, 1]"),
        (b'{"service": "sqs", ', "not JSON"),
    ],
    ids=["latency", "nesting", "id", "count", "probability", "not-json"],
)
def test_a_rule_that_would_break_the_engine_is_a_400_and_nothing_is_installed(
    faults: FaultsClient, aws, body: bytes, says: str
):
    assert faults.url.endswith(FAULTS_PATH)
    endpoint = faults.url.removesuffix(FAULTS_PATH)
    before = faults.list()
    status, answer = post(endpoint, body)
    assert status == 400, f"expected 400, saw {status}: {answer}"
    assert says in answer["error"], answer
    assert faults.list() == before
    aws("sqs").list_queues()  # the engine answers as before


def test_clearing_an_unknown_rule_is_an_error(faults: FaultsClient):
    (mine,) = faults.add([{"service": "sqs", "operation": "DeleteQueue", "error": "X", "id": "keep-me"}])
    with pytest.raises(UnknownRule, match="no fault rule with id 'nosuchid'"):
        faults.clear("nosuchid")
    assert [rule["id"] for rule in faults.list() if rule["id"] == mine["id"]] == ["keep-me"]
    assert isinstance(UnknownRule("x"), BadInput), "the CLI reports it as a usage error (exit 2)"
