"""Workflow 3's HTTP entry: POST /process-data through API Gateway and through the FastAPI app."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverless_testbed.deploy import Deployer
from serverless_testbed.stack.stack import Stack
from serverless_testbed.waiting import wait_for

from fixtures.requests import FAULTS, Request
from infra.runs import processing as runner

ROOT = Path(__file__).resolve().parents[3]
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def http(names: dict[str, str]) -> Iterator[httpx.Client]:
    with runner.http_client(names["api_url"], timeout=30) as client:
        yield client


def expect(answer: httpx.Response, status: int) -> dict[str, Any]:
    body: dict[str, Any] = answer.json()
    assert answer.status_code == status, f"expected HTTP {status}, saw {answer.status_code}: {answer.text}"
    assert answer.headers["content-type"].startswith("application/json"), f"saw {answer.headers['content-type']}"
    return body


def test_a_redeploy_of_the_unchanged_stack_plans_nothing(stack: Stack, deployer: Deployer) -> None:
    changes = deployer.plan(stack)
    assert changes == [], f"expected no change, saw {[f'{c.action} {c.kind} {c.name} {c.reasons}' for c in changes]}"


def test_the_api_processes_a_good_request(http: httpx.Client, names: dict[str, str]) -> None:
    sent = {"message": "Hello, Lambda!", "requestId": "http-good-1", "priority": 2}
    body = expect(http.post(names["api_url"], json=sent), 200)

    assert body["status"] == "processed", body
    assert (body["requestId"], body["message"], body["priority"]) == ("http-good-1", "Hello, Lambda!", 2), body
    assert body["summary"] == {
        "characters": 14,
        "words": 2,
        "sha256": hashlib.sha256(b"Hello, Lambda!").hexdigest(),
    }, body
    assert body["reply"] == "Processed: Hello, Lambda!", body


@pytest.mark.parametrize("fault", FAULTS)
def test_the_api_answers_a_bad_request_400_naming_the_fault(
    http: httpx.Client, names: dict[str, str], examples: dict[str, Request], fault: str
) -> None:
    request = examples[fault]
    body = expect(runner.send(http, names["api_url"], request), 400)

    assert body["error"] == "BadRequest", body
    assert body["reasons"] == [fault], f"expected reasons [{fault!r}] for body {request.body!r}, saw {body}"
    assert len(body["message"]) > 10, f"expected a message a person can act on, saw {body['message']!r}"


def test_the_api_messages_say_what_is_wrong(http: httpx.Client, names: dict[str, str]) -> None:
    answers = {
        "no body": http.post(names["api_url"], headers=JSON),
        "not json": http.post(names["api_url"], content=b"{message: hi}", headers=JSON),
        "missing": http.post(names["api_url"], json={"text": "hi"}),
        "wrong type": http.post(names["api_url"], json={"message": 42}),
    }
    messages = {case: expect(answer, 400)["message"] for case, answer in answers.items()}

    assert "no body" in messages["no body"], messages
    assert "not valid JSON" in messages["not json"], messages
    assert "unknown field(s) text" in messages["missing"], messages
    assert "'message' is required" in messages["missing"], messages
    assert "'message' must be a string, got a number" in messages["wrong type"], messages


@pytest.mark.parametrize("door", ["api", "app"])
def test_a_body_that_is_not_utf8_is_answered_400_through_both_doors(
    http: httpx.Client, names: dict[str, str], app_url: str, door: str
) -> None:
    url = names["api_url"] if door == "api" else f"{app_url}/process-data/"
    body = expect(http.post(url, content=b'{"message": "caf\xe9 au lait"}', headers=JSON), 400)

    assert (body["error"], body["reasons"]) == ("BadRequest", ["not-utf8"]), body
    assert "not UTF-8" in body["message"], body
    assert "byte 16" in body["message"], body


def test_the_app_forwards_a_good_request_and_returns_the_lambdas_answer(
    http: httpx.Client, names: dict[str, str], app_url: str
) -> None:
    sent = {"message": "Hello, Lambda!", "requestId": "app-good-1"}
    through_app = expect(http.post(f"{app_url}/process-data/", json=sent), 200)
    direct = expect(http.post(names["api_url"], json=sent), 200)

    assert through_app == direct, f"the app changed the Lambda's answer: {through_app} != {direct}"
    assert through_app["requestId"] == "app-good-1", through_app


@pytest.mark.parametrize("fault", FAULTS)
def test_the_app_answers_a_bad_request_400_like_the_api(
    http: httpx.Client, names: dict[str, str], app_url: str, examples: dict[str, Request], fault: str
) -> None:
    request = examples[fault]
    body = expect(runner.send(http, f"{app_url}/process-data/", request), 400)

    assert (body["error"], body["reasons"]) == ("BadRequest", [fault]), f"body {request.body!r}: saw {body}"
    assert len(body["message"]) > 10, f"expected a message a person can act on, saw {body['message']!r}"


def test_every_generated_request_gets_its_expected_answer_from_both(
    http: httpx.Client, names: dict[str, str], app_url: str, examples: dict[str, Request]
) -> None:
    problems = [
        f"{entry} {request.expected.reasons or 'valid'}: {problem}"
        for request in examples.values()
        for entry, url in (("api", names["api_url"]), ("app", f"{app_url}/process-data/"))
        for problem in runner.answer_problems(request, *_answer(runner.send(http, url, request)))
    ]
    assert problems == [], "\n".join(problems)


def _answer(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


def test_the_app_in_process_over_asgi_reaches_the_real_api(names: dict[str, str]) -> None:
    async def calls() -> tuple[httpx.Response, ...]:
        transport = httpx.ASGITransport(app=runner.create_app(names["api_url"]))
        async with httpx.AsyncClient(transport=transport, base_url="http://app", trust_env=False) as client:
            good = await client.post("/process-data/", json={"message": "over asgi"})
            bad = await client.post("/process-data/", content=b"", headers=JSON)
            return good, bad, await client.get("/health")

    good, bad, health = asyncio.run(calls())

    assert (good.status_code, good.json()["reply"]) == (200, "Processed: over asgi"), good.text
    assert (bad.status_code, bad.json()["reasons"]) == (400, ["no-body"]), bad.text
    assert health.json() == {"status": "ok", "forwardsTo": names["api_url"]}, health.text


@pytest.mark.parametrize("how", ["script", "uvicorn"])
def test_the_app_runs_with_one_command(http: httpx.Client, names: dict[str, str], how: str) -> None:
    port = _free_port()
    env = os.environ | {"PROCESS_DATA_URL": names["api_url"]}
    command = {
        "script": [sys.executable, "src/api_app/app.py", "--api-url", names["api_url"], "--port", str(port)],
        "uvicorn": [sys.executable, "-m", "uvicorn", "app:app_from_env", "--factory", "--app-dir", "src/api_app",
                    "--port", str(port), "--log-level", "warning"],
    }[how]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _healthy(http, port, process), timeout=30, what=f"the app ({how}) on port {port}")
        answer = http.post(f"http://127.0.0.1:{port}/process-data/", json={"message": "Hello, Lambda!"})
        assert answer.status_code == 200, f"expected 200, saw {answer.status_code}: {answer.text}"
        assert answer.json()["reply"] == "Processed: Hello, Lambda!", answer.text
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert "Traceback" not in output, output


def _healthy(http: httpx.Client, port: int, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"the app exited with {process.returncode}: {process.communicate()[0].decode()}")
    return http.get(f"http://127.0.0.1:{port}/health").status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
