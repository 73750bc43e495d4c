"""Run workflow 3 (Lambda orchestration behind an HTTP entry) on generated requests.

Every generated request is sent to the deployed `POST /process-data` and to the FastAPI
app (started here with uvicorn on a free port, forwarding to that API); each answer must
have the request's expected status and body. Every request with a JSON body also starts
an execution of the state machine; each must end as expected (SUCCEEDED, or FAILED with
ProcessingFailed), on the expected path, with its log entry in the log bucket (`retried`
counts executions whose tasks were retried: none unless faults are injected). The run id is in every
request id and execution name, so runs with the same seed are told apart.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from types import ModuleType
from typing import Any, cast

import httpx
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.errors import TestbedError
from serverless_testbed.executions import Execution, start, wait_executions
from serverless_testbed.project import src_dir
from serverless_testbed.records import REJECTED, Generated, rejected_record
from serverless_testbed.runs import RunOptions, RunResult
from serverless_testbed.stack.model import RestApi
from serverless_testbed.stack.stack import Stack
from serverless_testbed.waiting import wait_for

from fixtures.requests import Request, generate_requests
from infra.workflows import processing as workflow

SUCCESS_PATH = ["ProcessData", "LogResult", "Processed"]
FAILURE_PATH = ["ProcessData", "LogFailure", "ProcessingFailed"]
HEADERS = {"Content-Type": "application/json"}


def api_url(deployer: Deployer, stack: Stack, endpoint_url: str | None) -> str:
    """The invoke URL of the deployed `POST /process-data` (for `testbed status`)."""
    api = stack.get(workflow.API)
    assert isinstance(api, RestApi)
    url = api.url(deployer.clients, deployer.ctx, endpoint_url)
    if url is None:
        raise TestbedError(f"the API {api.physical(deployer.ctx)} is not deployed; run `testbed deploy` first")
    return url


def endpoint_of(clients: Clients) -> str | None:
    """The emulator endpoint the clients talk to; None for AWS's own endpoints."""
    url = str(clients("apigateway").meta.endpoint_url).rstrip("/")
    return None if url.endswith(".amazonaws.com") else url


@cache
def app_module() -> ModuleType:
    """`src/api_app/app.py`, loaded by path (`src/` holds deployable folders, not packages)."""
    app_file = src_dir() / "api_app" / "app.py"
    spec = importlib.util.spec_from_file_location("processing_api_app", app_file)
    if spec is None or spec.loader is None:
        raise TestbedError(f"cannot load the FastAPI app from {app_file}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def create_app(url: str) -> Any:
    """The FastAPI app forwarding `POST /process-data/` to `url`."""
    return app_module().create_app(url)


def http_client(url: str, timeout: float = 60) -> httpx.Client:
    """An HTTP client for `url` with the proxy settings the app itself uses (httpx cannot
    read an IPv6 NO_PROXY entry, which LocalStack puts in the environment)."""
    options: dict[str, Any] = app_module().client_options(url)
    return httpx.Client(timeout=timeout, **options)


@contextmanager
def serve_app(url: str, timeout: float = 10) -> Iterator[str]:
    """The FastAPI app served by uvicorn in a thread on a free local port; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(url), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="processing-app", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), timeout=timeout, what="the FastAPI app to start")
        if not server.started:
            raise TestbedError("the FastAPI app stopped while starting; see the log above")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()


def send(client: httpx.Client, url: str, request: Request) -> httpx.Response:
    """POST the request's body (none at all for a body-less request) to `url`."""
    if request.body is None:
        return client.post(url, headers=HEADERS)
    return client.post(url, content=request.body.encode(), headers=HEADERS)


def answer_problems(request: Request, status: int, body: Any) -> list[str]:
    """How an HTTP answer differs from what `request` must get (empty when it does not)."""
    expected = list(request.expected.reasons)
    if status != request.status:
        return [f"expected HTTP {request.status}{' ' + str(expected) if expected else ''}, saw {status}: {body}"]
    if not isinstance(body, dict):
        return [f"expected a JSON object, saw {body!r}"]
    if status == 400:
        seen = (body.get("error"), body.get("reasons"))
        if seen != ("BadRequest", expected) or not body.get("message"):
            return [f"expected BadRequest {expected} with a message, saw {body}"]
        return []
    return result_problems(request.record, body)


def result_problems(payload: dict[str, Any], result: Any) -> list[str]:
    """How a processing result differs from the one `payload` must give."""
    message = payload["message"]
    wanted = {
        "status": "processed",
        "requestId": payload.get("requestId"),
        "message": message,
        "summary": {
            "characters": len(message),
            "words": len(message.split()),
            "sha256": hashlib.sha256(message.encode()).hexdigest(),
        },
    }
    seen = {key: result.get(key) for key in wanted} if isinstance(result, dict) else result
    return [] if seen == wanted else [f"expected result {wanted}, saw {seen}"]


def retried_errors(execution: Execution) -> list[str]:
    """The errors of the task attempts that failed and were retried."""
    failed = [e["taskFailedEventDetails"]["error"] for e in execution.history if e["type"] == "TaskFailed"]
    return failed if execution.succeeded else failed[:-1]


def log_entry(clients: Clients, stack: Stack, ctx: Any, execution_arn: str) -> dict[str, Any] | None:
    """The log entry the logging Lambda wrote for an execution, None when there is none."""
    bucket = stack.bind(ctx).name(workflow.LOG_BUCKET)
    key = f"{workflow.LOGS}{execution_arn.rsplit(':', 1)[-1]}/entry.json"
    s3 = clients("s3")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return cast(dict[str, Any], json.loads(body))


def execution_problems(payload: Any, valid: bool, execution: Execution, entry: dict[str, Any] | None) -> list[str]:
    """How a finished execution and its log entry differ from what its input must give."""
    problems: list[str] = []
    if valid:
        if execution.status != "SUCCEEDED" or execution.path != SUCCESS_PATH:
            return [
                f"expected SUCCEEDED via {SUCCESS_PATH}, saw {execution.status} via {execution.path}: {execution.cause}"
            ]
        problems += result_problems(payload, (execution.output or {}).get("result"))
    elif (execution.status, execution.error, execution.path) != ("FAILED", workflow.FAILED_ERROR, FAILURE_PATH):
        seen = f"{execution.status} {execution.error} via {execution.path}"
        return [f"expected FAILED {workflow.FAILED_ERROR} via {FAILURE_PATH}, saw {seen}"]
    if entry is None:
        return [*problems, "no log entry in the log bucket"]
    if entry.get("status") != execution.status:
        problems.append(f"log entry: expected status {execution.status}, saw {entry.get('status')}")
    if not valid and (entry.get("error") != "InvalidRequest" or entry.get("message") != execution.cause):
        problems.append(f"log entry: expected InvalidRequest with the cause {execution.cause!r}, saw {entry}")
    return problems


def run(deployer: Deployer, stack: Stack, options: RunOptions) -> RunResult:
    clients, ctx = deployer.clients, deployer.ctx
    generated = [
        cast(Request, item)
        for item in generate_requests(options.records, options.invalid_rate, options.seed, run_id=options.run_id)
    ]
    url = api_url(deployer, stack, endpoint_of(clients))
    started = time.monotonic()
    problems: list[str] = []
    counts = {"requests": len(generated)}
    rejected: list[dict[str, str]] = []
    progress = options.progress
    with serve_app(url) as app_base, ThreadPoolExecutor(max_workers=8) as pool:
        for entry, target in (("api", url), ("app", f"{app_base}/process-data/")):
            front = "API Gateway" if entry == "api" else "FastAPI app"
            with (
                http_client(target) as http,
                progress.stage(f"processing: {front} answers", total=len(generated), unit="requests") as stage,
            ):

                def answered(request: Request, http: httpx.Client = http, target: str = target) -> httpx.Response:
                    answer = send(http, target, request)
                    stage.advance()
                    return answer

                answers = list(pool.map(answered, generated))
            for request, answer in zip(generated, answers, strict=True):
                body = (
                    answer.json()
                    if answer.headers.get("content-type", "").startswith("application/json")
                    else answer.text
                )
                problems += [
                    f"{entry} {_label(request)}: {p}" for p in answer_problems(request, answer.status_code, body)
                ]
            rejected += [
                rejected_record(f"{entry} {_label(request)}", _reasons_of(answer), f"{entry}: HTTP 400")
                for request, answer in zip(generated, answers, strict=True)
                if answer.status_code == 400
            ]
            counts[f"{entry}_accepted"] = sum(a.status_code == 200 for a in answers)
            counts[f"{entry}_rejected"] = sum(a.status_code == 400 for a in answers)
        inputs = [(item.record, item.expected.valid, _label(item)) for item in generated if item.is_json]
        machine = stack.bind(ctx).arn(workflow.MACHINE)
        with progress.stage("processing: executions started", total=len(inputs), unit="executions") as stage:
            arns = []
            for index, (payload, _, _) in enumerate(inputs):
                name = f"run-{options.run_id}-{index:05d}-{uuid.uuid4().hex[:6]}"
                arns.append(start(clients, machine, payload, name=name))
                stage.advance()
    with progress.stage("processing: executions finished", total=len(arns), unit="executions") as stage:
        executions = wait_executions(clients, arns, finished=lambda _: stage.advance())
    logged = retried = 0
    with progress.stage("processing: log entries read", total=len(executions), unit="executions") as stage:
        for (payload, valid, label), execution in zip(inputs, executions, strict=True):
            written = log_entry(clients, stack, ctx, execution.arn)
            logged += written is not None
            problems += [f"execution {label}: {p}" for p in execution_problems(payload, valid, execution, written)]
            retried += bool(retried_errors(execution))
            stage.advance()
    counts |= {
        "executions": len(executions),
        "succeeded": sum(e.succeeded for e in executions),
        "failed": sum(e.error == workflow.FAILED_ERROR for e in executions),
        "retried": retried,
        "logged": logged,
    }
    seconds = time.monotonic() - started
    details = {"api_url": url, REJECTED: rejected}
    return RunResult("processing", executions, counts, seconds, problems, details, options.run_id)


def _reasons_of(answer: httpx.Response) -> str:
    """The reasons a 400 answer gives (its JSON `reasons`, else its text)."""
    try:
        body = answer.json()
    except ValueError:
        return str(answer.text)[:200]
    reasons = body.get("reasons") if isinstance(body, dict) else None
    return ", ".join(map(str, reasons)) if isinstance(reasons, list) else json.dumps(body)[:200]


def _label(item: Generated) -> str:
    record = item.record
    if isinstance(record, dict) and isinstance(record.get("requestId"), str):
        return str(record["requestId"])
    reasons = ",".join(item.expected.reasons) or "valid"
    return f"request ({reasons}) {json.dumps(record)[:40]}"
