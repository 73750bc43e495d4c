"""Fault rules (infra/serverless_testbed/faults.py): what a rule accepts, what it matches, how often it fires,
and the payloads the executor answers with (infra/serverless_testbed/localstack_plugins/faults.py)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from serverless_testbed.errors import BadInput
from serverless_testbed.faults import (
    FaultBook,
    FaultRule,
    UnknownRule,
    nesting,
    parse_rules,
    parse_rules_text,
    request_resources,
    short_name,
)
from serverless_testbed.localstack_plugins.faults import failure_for


def rule(**fields: Any) -> FaultRule:
    return FaultRule.from_json(fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"operation": "PutItem", "error": "X"}, "either a service"),
        ({"service": "s3", "function": "f", "error": "X"}, "either a service"),
        ({"service": "dynamodb", "operation": "PutItem"}, "gives an 'error'"),
        ({"service": "dynamodb", "error": "X", "probability": -0.1}, "in [0, 1]"),
        ({"service": "dynamodb", "error": "X", "probability": 1.5}, "in [0, 1]"),
        ({"service": "dynamodb", "error": "X", "count": -1}, "whole number >= 0"),
        ({"service": "dynamodb", "error": "X", "count": 0}, "'count' must be at least 1"),
        ({"service": "sqs", "latency_ms": 10**16}, "'latency_ms' must be at most 900000"),
        ({"function": "f", "fault": "latency", "latency_ms": 900_001}, "at most 900000"),
        ({"service": "sqs", "error": "X", "id": "a/b"}, "'id' must be 1 to 64 letters"),
        ({"service": "sqs", "error": "X", "id": "x" * 65}, "'id' must be 1 to 64"),
        ({"service": "sqs", "error": "X", "id": "a b"}, "'id' must be"),
        ({"service": "dynamodb", "error": "X", "status": 200}, "HTTP error status"),
        ({"service": "dynamodb", "fault": "crash"}, "gives an 'error'"),
        ({"function": "f", "fault": "explode"}, "one of error, timeout, crash, throttle, latency"),
        ({"function": "f", "fault": "error"}, "needs 'error'"),
        ({"function": "f", "fault": "latency"}, "latency_ms"),
        ({"service": "s3", "error": "X", "colour": "red"}, "unknown fault rule field(s) colour"),
        ({"service": 3, "error": "X"}, "must be a string"),
    ],
)
def test_a_bad_rule_is_refused_saying_what_is_wrong(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        FaultRule.from_json(fields)


def test_a_rule_fills_in_its_kind_status_and_id() -> None:
    throttled = rule(service="DynamoDB", operation="PutItem", error="ProvisionedThroughputExceededException")
    assert (throttled.service, throttled.fault, throttled.http_status) == ("dynamodb", "error", 400)
    assert len(throttled.id) == 8
    assert rule(service="s3", error="SlowDown").http_status == 503
    assert rule(service="lambda", error="TooManyRequestsException").http_status == 429
    assert rule(service="s3", error="AccessDenied", status=403).http_status == 403
    assert rule(service="s3", latency_ms=200).fault == "latency"
    assert "injected fault" in throttled.text


def test_a_rule_installs_again_from_its_spec_but_not_from_its_listing() -> None:
    original = rule(service="dynamodb", operation="PutItem", error="X", count=2)
    assert FaultRule.from_json(original.spec()) == original
    with pytest.raises(BadInput, match=r"unknown fault rule field\(s\) fired, matched"):
        FaultRule.from_json(original.to_json())


def test_rules_come_as_one_object_a_list_or_a_rules_document() -> None:
    one = {"service": "sqs", "error": "X"}
    assert len(parse_rules(one)) == 1
    assert len(parse_rules([one, one])) == 2
    assert len(parse_rules({"rules": [one]})) == 1
    with pytest.raises(BadInput, match="no fault rule given"):
        parse_rules([])


def test_service_rules_match_service_operation_region_and_resource_patterns() -> None:
    r = rule(service="dynamodb", operation="putitem", region="us-east-1", resource="*-sales-orders", error="X")
    assert r.matches_service("dynamodb", "PutItem", "us-east-1", ["tb-sales-orders"])
    assert not r.matches_service("dynamodb", "GetItem", "us-east-1", ["tb-sales-orders"])
    assert not r.matches_service("dynamodb", "PutItem", "eu-west-1", ["tb-sales-orders"])
    assert not r.matches_service("dynamodb", "PutItem", "us-east-1", ["tb-other"])
    assert not r.matches_service("s3", "PutItem", "us-east-1", ["tb-sales-orders"])
    any_op = rule(service="s3", error="X")
    assert any_op.matches_service("s3", "GetObject", "eu-west-1", [])


def test_the_resource_a_request_is_about_is_read_from_its_parameters() -> None:
    assert request_resources({"TableName": "t"}) == ["t"]
    assert request_resources({"RequestItems": {"a": [], "b": []}}) == ["a", "b"]
    transact = {"TransactItems": [{"Put": {"TableName": "t1"}}, {"Update": {"TableName": "t2"}}]}
    assert request_resources(transact) == ["t1", "t2"]
    assert request_resources({"Entries": [{"EventBusName": "bus"}]}) == ["bus"]
    assert request_resources(None) == []
    assert short_name("https://sqs.us-east-1.localhost:4566/000000000000/tb-dlq") == "tb-dlq"
    assert short_name("arn:aws:lambda:us-east-1:000000000000:function:tb-load:$LATEST") == "tb-load"
    assert short_name("arn:aws:sns:us-east-1:000000000000:tb-topic") == "tb-topic"
    assert short_name("arn:aws:kinesis:us-east-1:000000000000:stream/tb-stream") == "tb-stream"
    assert short_name("tb-load:live") == "tb-load"
    r = rule(service="sqs", resource="tb-dlq", error="X")
    assert r.matches_service("sqs", "SendMessage", "us-east-1", ["https://sqs.localhost/000000000000/tb-dlq"])


def test_a_count_limits_how_often_a_rule_fires_and_matches_keep_counting() -> None:
    book = FaultBook()
    (added,) = book.add([rule(service="dynamodb", operation="PutItem", error="X", count=2)])
    fired = [book.service_fault("dynamodb", "PutItem", "us-east-1", ["t"]) for _ in range(4)]
    assert [f is not None for f in fired] == [True, True, False, False]
    (listed,) = book.listing()
    assert (listed["id"], listed["matched"], listed["fired"]) == (added.id, 4, 2)


def test_a_probability_fires_for_that_share_of_requests() -> None:
    book = FaultBook(chance=random.Random(7))
    book.add([rule(service="dynamodb", error="X", probability=0.2)])
    fired = sum(book.service_fault("dynamodb", "PutItem", "r", []) is not None for _ in range(5000))
    assert 850 < fired < 1150, f"expected about 1000 of 5000 to fire at 20 %, saw {fired}"


def test_the_first_rule_that_fires_wins_and_clearing_removes_rules() -> None:
    book = FaultBook()
    first, second = book.add([rule(service="s3", error="A", count=1), rule(service="s3", error="B")])
    assert [book.service_fault("s3", "GetObject", "r", []).error for _ in range(2)] == ["A", "B"]  # type: ignore[union-attr]
    with pytest.raises(BadInput, match="exists already"):
        book.add([rule(service="s3", error="C", id=second.id)])
    assert book.clear(first.id) == 1
    assert [r["id"] for r in book.listing()] == [second.id]
    assert book.clear() == 1
    assert book.listing() == []


def test_function_rules_are_asked_only_for_their_kinds() -> None:
    book = FaultBook()
    book.add([rule(function="*-process", fault="throttle"), rule(function="*-process", fault="timeout", count=1)])
    executor_kinds = ("error", "timeout", "crash", "latency")
    assert book.function_fault("tb-process", executor_kinds).fault == "timeout"  # type: ignore[union-attr]
    assert book.function_fault("tb-process", executor_kinds) is None
    assert book.function_fault("tb-process", ("throttle",)).fault == "throttle"  # type: ignore[union-attr]
    assert book.function_fault("tb-other", ("throttle",)) is None


def test_injected_failures_answer_with_lambdas_own_payloads() -> None:
    timeout = failure_for(rule(function="f", fault="timeout"), "req-1", 10)
    assert timeout is not None
    assert timeout.resets_sandbox
    assert json.loads(timeout.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "RequestId: req-1 Error: Task timed out after 10.00 seconds",
    }
    crash = failure_for(rule(function="f", fault="crash"), "req-2", 10)
    assert crash is not None
    assert crash.resets_sandbox
    assert json.loads(crash.payload)["errorType"] == "Runtime.ExitError"
    error = failure_for(rule(function="f", error="TransientLoadError", message="try again"), "req-3", 10)
    assert error is not None
    assert not error.resets_sandbox
    assert json.loads(error.payload) == {
        "errorType": "TransientLoadError",
        "errorMessage": "try again",
        "stackTrace": [],
    }
    assert failure_for(rule(function="f", fault="latency", latency_ms=5), "req-4", 10) is None


@pytest.fixture
def cli(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """typer's runner with no testbed or AWS settings and no engine up."""
    import os

    from typer.testing import CliRunner

    for key in list(os.environ):
        if key.startswith(("AWS_", "TESTBED_", "LOCALSTACK_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TESTBED_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "500")
    return CliRunner()


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["faults", "list"], 3, "no engine is up"),
        (["faults", "clear"], 3, "no engine is up"),
        (["faults", "list", "--target", "compose"], 2, "fault injection needs the embedded engine"),
        (["faults", "add", "--service", "dynamodb"], 2, "gives an 'error'"),
        (["faults", "add", "--function", "f", "--fault", "explode"], 2, "one of error, timeout"),
        (["faults", "add", "--service", "s3", "--error", "SlowDown", "--probability", "2"], 2, "in [0, 1]"),
    ],
)
def test_the_faults_commands_say_what_is_wrong_in_one_line(cli: Any, args: list[str], code: int, words: str) -> None:
    from serverless_testbed.cli import app

    result = cli.invoke(app, args, prog_name="testbed")
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: "), lines
    assert words in lines[0], lines


def test_a_body_too_deep_too_large_or_not_json_is_refused_in_one_line() -> None:
    with pytest.raises(BadInput, match=r"nested 5000 deep; rules are at most 8 deep"):
        parse_rules_text(b"[" * 5000 + b"]" * 5000)
    with pytest.raises(BadInput, match="bytes; at most 1000000"):
        parse_rules_text(b" " * 1_000_001)
    with pytest.raises(BadInput, match="not JSON"):
        parse_rules_text(b'{"service": ')
    assert nesting(b'{"message": "[[[[[[[[[[[[ \\" {{{{"}') == 1, "brackets in strings do not count"
    (ok,) = parse_rules_text(b'{"rules": [{"service": "sqs", "error": "X"}]}')
    assert ok.service == "sqs"


def test_a_probability_of_zero_counts_matches_and_never_fires() -> None:
    book = FaultBook()
    book.add([rule(service="sqs", error="X", probability=0)])
    assert [book.service_fault("sqs", "SendMessage", "r", []) for _ in range(50)] == [None] * 50
    assert book.listing()[0]["matched"] == 50


def test_clearing_an_unknown_id_is_an_error_and_removes_nothing() -> None:
    book = FaultBook()
    book.add([rule(service="sqs", error="X", id="mine")])
    with pytest.raises(UnknownRule, match="no fault rule with id 'nosuch'"):
        book.clear("nosuch")
    assert [r["id"] for r in book.listing()] == ["mine"]


def test_rules_of_other_services_and_operations_are_not_asked() -> None:
    """Indexed by service and operation: 5,000 rules elsewhere are never looked at."""
    book = FaultBook()
    book.add([rule(service="dynamodb", operation="PutItem", error="X") for _ in range(2500)])
    book.add([rule(service="sqs", operation="DeleteQueue", error="X") for _ in range(2500)])
    assert book.service_fault("sqs", "SendMessage", "r", ["q"]) is None
    assert sum(r["matched"] for r in book.listing()) == 0


def test_the_first_rule_added_fires_first_across_operation_and_any_operation_rules() -> None:
    book = FaultBook()
    book.add([rule(service="s3", error="ANY", count=1)])
    book.add([rule(service="s3", operation="GetObject", error="GET", count=1)])
    book.add([rule(service="s3", error="ANY2")])
    fired = [book.service_fault("s3", "GetObject", "r", []) for _ in range(3)]
    assert [f.error for f in fired if f] == ["ANY", "GET", "ANY2"]
    book.clear(book.listing()[0]["id"])
    assert book.service_fault("s3", "GetObject", "r", []).error == "ANY2"  # type: ignore[union-attr]


def test_rules_naming_one_resource_are_found_by_that_name() -> None:
    """5,000 rules for other queues are not looked at; the one for this queue is, by its name or ARN."""
    book = FaultBook()
    book.add([rule(service="sqs", resource=f"queue-{i}", error="X") for i in range(5000)])
    fired = book.service_fault("sqs", "SendMessage", "r", ["http://127.0.0.1:4566/000000000000/queue-42"])
    assert fired is not None
    assert fired.resource == "queue-42"
    assert sum(r["matched"] for r in book.listing()) == 1
    assert book.service_fault("sqs", "SendMessage", "r", ["http://127.0.0.1:4566/000000000000/other"]) is None
