"""The pure logic of workflow 3's Lambdas and FastAPI app: no engine, no AWS calls."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import httpx
import pytest
from serverless_testbed.records import Expected

from fixtures.requests import Request
from infra.runs import processing as runner


def proxy_event(body: str | None, *, encoded: bool = False) -> dict[str, Any]:
    """The parts of an API Gateway proxy event the handler reads."""
    if body is not None and encoded:
        body = base64.b64encode(body.encode()).decode()
    return {"httpMethod": "POST", "path": "/process-data", "requestContext": {"stage": "dev"}, "body": body,
            "isBase64Encoded": encoded}  # fmt: skip


def answer(process_handler: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = process_handler.handler(event, None)
    assert response["headers"] == {"Content-Type": "application/json"}, response
    return response["statusCode"], json.loads(response["body"])


# --- the processing Lambda --------------------------------------------------------------


def test_processing_summarises_the_message(rules: ModuleType) -> None:
    result = rules.process({"message": " Hello, Lambda! ", "requestId": "r-1"})
    assert result == {
        "status": "processed",
        "requestId": "r-1",
        "priority": 3,
        "message": " Hello, Lambda! ",
        "summary": {"characters": 16, "words": 2, "sha256": hashlib.sha256(b" Hello, Lambda! ").hexdigest()},
        "reply": "Processed: Hello, Lambda!",
    }, result


def test_every_fault_of_a_request_is_listed_in_order(rules: ModuleType) -> None:
    found = rules.problems({"extra": 1, "message": "", "requestId": 7, "priority": 0})
    assert [code for code, _ in found] == [
        "unknown-field",
        "empty-message",
        "request-id-invalid",
        "priority-out-of-range",
    ]
    assert found[0][1] == "unknown field(s) extra; the accepted fields are message, requestId, priority", found


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "'priority' must be an integer, got a boolean"),
        (2.5, "'priority' must be an integer, got a number"),
        ("3", "'priority' must be an integer, got a string"),
    ],
)
def test_a_priority_must_be_a_real_integer(rules: ModuleType, value: Any, message: str) -> None:
    assert rules.problems({"message": "hi", "priority": value}) == [("priority-not-an-integer", message)]


def test_the_api_answer_to_a_good_request_is_200_with_the_processing(
    process_handler: ModuleType, rules: ModuleType
) -> None:
    payload = {"message": "Hello, Lambda!", "priority": 1}
    status, body = answer(process_handler, proxy_event(json.dumps(payload)))
    assert (status, body) == (200, rules.process(payload)), body


def test_a_base64_body_is_decoded(process_handler: ModuleType) -> None:
    status, body = answer(process_handler, proxy_event('{"message": "encoded"}', encoded=True))
    assert (status, body["message"]) == (200, "encoded"), body


@pytest.mark.parametrize(
    ("body", "reasons", "words"),
    [
        (None, ["no-body"], "no body"),
        ("   ", ["no-body"], "no body"),
        ("{'message': 'hi'}", ["invalid-json"], "not valid JSON"),
        ("null", ["not-an-object"], "got null"),
        ('{"message": "hi", "simulate": "transient-once"}', ["unknown-field"], "unknown field(s) simulate"),
        ('{"message": ["hi"]}', ["message-not-a-string"], "got an array"),
    ],
)
def test_the_api_answer_to_a_bad_request_is_400_naming_the_fault(
    process_handler: ModuleType, body: str | None, reasons: list[str], words: str
) -> None:
    status, answered = answer(process_handler, proxy_event(body))
    assert (status, answered["error"], answered["reasons"]) == (400, "BadRequest", reasons), answered
    assert words in answered["message"], answered


@pytest.mark.parametrize(
    "raw",
    [b'{"message": "caf\xe9"}', b'{"message": "\xff\xfe"}', b'{"message": "cut \xe2\x82"}'],
    ids=["latin-1", "bom-bytes", "truncated-sequence"],
)
def test_a_body_that_is_not_utf8_is_answered_400_not_replaced(process_handler: ModuleType, raw: bytes) -> None:
    # API Gateway hands a body that is not UTF-8 to the Lambda base64-encoded.
    event = proxy_event(None) | {"body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
    status, answered = answer(process_handler, event)
    assert (status, answered["error"], answered["reasons"]) == (400, "BadRequest", ["not-utf8"]), answered
    offset = raw.index(next(byte for byte in raw if byte >= 0x80).to_bytes())
    assert f"byte {offset}" in answered["message"], answered
    assert "UTF-8" in answered["message"], answered
    assert "\ufffd" not in json.dumps(answered), f"the body must not be decoded with replacement: {answered}"


def test_a_step_rejects_bad_input_with_invalid_request(process_handler: ModuleType) -> None:
    with pytest.raises(process_handler.InvalidRequest, match="the input must be a JSON object, got an array") as caught:
        process_handler.handler({"input": [1], "execution": "e-1"}, None)
    assert caught.value.codes == ["not-an-object"]
    # The test switch is gone: a step's input is a request like any other, nothing more.
    with pytest.raises(process_handler.InvalidRequest, match=r"unknown field\(s\) simulate") as caught:
        process_handler.handler({"input": {"message": "hi", "simulate": "transient-once"}, "execution": "e-1"}, None)
    assert caught.value.codes == ["unknown-field"]


def test_a_step_processes_good_input_and_tells_the_two_event_shapes_apart(process_handler: ModuleType) -> None:
    result = process_handler.handler({"input": {"message": "from a step"}, "execution": "e-2"}, None)
    assert result["reply"] == "Processed: from a step", result
    assert process_handler.is_proxy_event(proxy_event("{}"))
    assert not process_handler.is_proxy_event({"input": {"message": "hi"}, "execution": "e"})
    assert not process_handler.is_proxy_event(["httpMethod", "requestContext"])


# --- the logging Lambda ------------------------------------------------------------------

NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


def test_a_success_is_logged_with_its_result(log_handler: ModuleType) -> None:
    result = {"requestId": "r-1", "reply": "Processed: hi"}
    entry = log_handler.entry({"execution": "e-1", "status": "SUCCEEDED", "result": result}, NOW)
    assert entry == {"execution": "e-1", "status": "SUCCEEDED", "loggedAt": "2026-11-03T12:00:00+00:00",
                     "requestId": "r-1", "result": result, "message": "Processed: hi"}  # fmt: skip
    assert log_handler.entry_key("logs/", "e-1") == "logs/e-1/entry.json"


def test_a_failure_is_logged_with_the_lambdas_error_message(log_handler: ModuleType) -> None:
    cause = json.dumps({"errorMessage": "'message' is required", "errorType": "InvalidRequest", "stackTrace": []})
    event = {
        "execution": "e-2",
        "status": "FAILED",
        "error": "InvalidRequest",
        "cause": cause,
        "input": {"requestId": "r-2"},
    }
    entry = log_handler.entry(event, NOW)
    assert (entry["requestId"], entry["error"], entry["message"]) == (
        "r-2",
        "InvalidRequest",
        "'message' is required",
    ), entry
    assert entry["input"] == {"requestId": "r-2"}, entry


@pytest.mark.parametrize(
    ("cause", "message"),
    [("States.Timeout after 10 s", "States.Timeout after 10 s"), ('{"other": 1}', '{"other": 1}'), (None, "")],
)
def test_a_cause_that_is_not_a_lambda_error_is_kept_as_it_is(log_handler: ModuleType, cause: Any, message: str) -> None:
    assert log_handler.failure_message(cause) == message


@pytest.mark.parametrize(
    ("event", "message"),
    [({"status": "FAILED"}, "names no execution"), ({"execution": "e", "status": "RUNNING"}, "status must be one of")],
)
def test_a_malformed_log_request_is_refused(log_handler: ModuleType, event: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        log_handler.entry(event, NOW)


# --- the FastAPI app ---------------------------------------------------------------------


class Upstream(BaseHTTPRequestHandler):
    """A stand-in API answering every POST with the status and body of its server."""

    def do_POST(self) -> None:
        status, body = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def post(app: Any, body: bytes) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app", trust_env=False) as client:
            return await client.post("/process-data/", content=body, headers={"Content-Type": "application/json"})

    return asyncio.run(call())


def upstream_url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/dev/process-data"


@pytest.mark.parametrize(
    ("status", "body", "relayed"),
    [(200, '{"status": "processed"}', 200), (400, '{"error": "BadRequest", "reasons": ["x"]}', 400)],
)
def test_the_app_relays_the_apis_answer(
    api_app: ModuleType, upstream: ThreadingHTTPServer, status: int, body: str, relayed: int
) -> None:
    upstream.answer = (status, body)  # type: ignore[attr-defined]
    response = post(api_app.create_app(upstream_url(upstream)), b'{"message": "hi"}')
    assert (response.status_code, response.json()) == (relayed, json.loads(body)), response.text


@pytest.mark.parametrize(("status", "body"), [(500, '{"message": "Internal server error"}'), (200, "<html>")])
def test_the_app_answers_502_when_the_api_fails(
    api_app: ModuleType, upstream: ThreadingHTTPServer, status: int, body: str
) -> None:
    upstream.answer = (status, body)  # type: ignore[attr-defined]
    response = post(api_app.create_app(upstream_url(upstream)), b'{"message": "hi"}')
    assert response.status_code == 502, response.text
    assert response.json()["error"] == "BadGateway", response.text
    assert upstream_url(upstream) in response.json()["message"], response.text


def test_the_app_answers_502_when_the_api_cannot_be_reached(api_app: ModuleType) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/dev/process-data"
    response = post(api_app.create_app(closed), b'{"message": "hi"}')
    assert response.status_code == 502, response.text
    assert response.json()["message"].startswith(f"cannot reach the process-data API at {closed}"), response.text


def test_the_app_refuses_a_body_that_is_not_utf8_without_calling_the_api(api_app: ModuleType) -> None:
    # Nothing listens at this address: a 400 proves the request never left the app.
    response = post(api_app.create_app("http://127.0.0.1:9/unused"), b'{"message": "caf\xe9 au lait"}')
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["error"], body["reasons"]) == ("BadRequest", ["not-utf8"]), body
    assert "byte 16" in body["message"], body
    assert "UTF-8" in body["message"], body


def test_the_app_refuses_bad_requests_without_calling_the_api(api_app: ModuleType) -> None:
    # Nothing listens at this address: a 400 proves the request never left the app.
    app = api_app.create_app("http://127.0.0.1:9/unused")
    response = post(app, b'{"message": 5, "colour": "red"}')
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": "BadRequest",
        "message": "unknown field(s) colour; the accepted fields are message, requestId, priority; "
        "'message': Input should be a valid string",
        "reasons": ["unknown-field", "message-not-a-string"],
    }, response.text


def test_the_app_reads_proxies_even_with_an_ipv6_no_proxy_entry(
    api_app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1,[::1]")

    remote = api_app.client_options("https://abc.execute-api.us-east-1.amazonaws.com/dev/process-data")
    local = api_app.client_options("http://127.0.0.1:4566/_aws/execute-api/abc/dev/process-data")
    assert (remote["proxy"], remote["trust_env"]) == ("http://proxy.example:3128", False), remote
    assert local["proxy"] is None, local
    with httpx.Client(**local):
        pass  # httpx's own reading of the same environment raises ValueError


def test_the_app_needs_an_http_url(api_app: ModuleType) -> None:
    with pytest.raises(ValueError, match="must be an http"):
        api_app.create_app("process-data")


def test_the_runner_checks_answers_against_the_expected_ones() -> None:
    good = Request({"message": "hi there", "requestId": "r"}, Expected(True), body='{"message": "hi there"}')
    bad = Request({"message": 1}, Expected(False, ("message-not-a-string",)), body='{"message": 1}', status=400)
    summary = {"characters": 8, "words": 2, "sha256": hashlib.sha256(b"hi there").hexdigest()}
    processed = {"status": "processed", "requestId": "r", "message": "hi there", "summary": summary}

    assert runner.answer_problems(good, 200, processed) == []
    assert runner.answer_problems(good, 200, processed | {"requestId": "other"}) != []
    assert runner.answer_problems(good, 400, {}) == ["expected HTTP 200, saw 400: {}"]
    rejected = {"error": "BadRequest", "reasons": ["message-not-a-string"], "message": "m"}
    assert runner.answer_problems(bad, 400, rejected) == []
    assert runner.answer_problems(bad, 400, {"error": "BadRequest", "reasons": ["other"], "message": "m"}) != []
