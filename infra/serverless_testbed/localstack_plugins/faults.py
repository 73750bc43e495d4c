"""Fault injection inside the embedded engine (an on_infra_start hook).

Two places apply the rules of `serverless_testbed.faults` (one `FaultBook` per engine process):

- a request handler in LocalStack's gateway chain (`serve_custom_service_request_handlers`,
  after the request is parsed): every AWS call passes it, from clients outside, from
  functions inside, and from Step Functions' service integrations (with IN_MEMORY_CLIENT=1
  internal clients call the gateway's handler chain directly). A matching rule delays the
  request, or answers it with the AWS error, serialized in the service's protocol by
  LocalStack's own exception serializer (`CommonServiceException`). Function `throttle`
  rules answer Lambda's Invoke with 429 `TooManyRequestsException` here, as Lambda does.
- `function_fault`, which the local-process Lambda executor asks before each invocation:
  an invocation error, a timeout or a crash (both replace the sandbox), or added latency.

The rules are driven over HTTP on the engine's own port: `POST /_testbed/faults` (a rule, a
list, or {"rules": [...]}), `GET` (the rules, with `matched` and `fired` counts),
`DELETE` (all) and `DELETE /_testbed/faults/<id>`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from localstack.runtime import hooks
from serverless_testbed.errors import BadInput
from serverless_testbed.faults import (
    FAULTS_PATH,
    FaultBook,
    FaultRule,
    UnknownRule,
    parse_rules_text,
    request_resources,
)
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

LOG = logging.getLogger(__name__)
BOOK = FaultBook()
_INVOKE_OPERATIONS = ("Invoke", "InvokeAsync", "InvokeWithResponseStream")


@hooks.on_infra_start()
@only_in_testbed_engine()  # not a fidelity patch: nothing fires until a test installs a rule
def inject_faults() -> None:
    from localstack.aws import handlers
    from localstack.services.edge import ROUTER

    handlers.serve_custom_service_request_handlers.append(answer_faults)
    ROUTER.add(FAULTS_PATH, faults_endpoint, methods=["GET", "POST", "DELETE"])
    ROUTER.add(f"{FAULTS_PATH}/<rule_id>", faults_endpoint, methods=["DELETE"])
    LOG.debug("fault injection on at %s", FAULTS_PATH)


def answer_faults(chain: Any, context: Any, response: Any) -> None:
    """Gateway handler: delay or fail the request when a rule says so."""
    if not BOOK.rules or context.service is None or context.operation is None:
        return
    service = context.service.service_name
    operation = context.operation.name
    params = context.service_request or {}
    rule = BOOK.service_fault(service, operation, context.region or "", request_resources(params))
    if rule is None and service == "lambda" and operation in _INVOKE_OPERATIONS:
        function = params.get("FunctionName")
        rule = BOOK.function_fault(str(function), ("throttle",)) if function else None
    if rule is None:
        return
    LOG.info("fault %s fires on %s.%s", rule.id, service, operation)
    if rule.latency_ms:
        time.sleep(rule.latency_ms / 1000)
    if rule.fault == "latency":
        return
    from localstack.aws.api import CommonServiceException

    if rule.fault == "throttle":
        raise CommonServiceException(
            "TooManyRequestsException", f"Rate Exceeded. ({rule.text})", status_code=429, sender_fault=True
        )
    status = rule.http_status
    raise CommonServiceException(
        rule.error or "InjectedFault", rule.text, status_code=status, sender_fault=status < 500
    )


def faults_endpoint(request: Any, rule_id: str | None = None) -> Any:
    """`/_testbed/faults`: POST rules, GET them with their counts, DELETE all or one."""
    from localstack.http import Response

    if request.method == "GET":
        return {"rules": BOOK.listing()}
    if request.method == "DELETE":
        try:
            return {"cleared": BOOK.clear(rule_id)}
        except UnknownRule as err:
            return Response(json.dumps({"error": str(err)}), status=404, mimetype="application/json")
    try:
        added = BOOK.add(parse_rules_text(request.get_data()))
    except BadInput as err:
        return Response(json.dumps({"error": str(err)}), status=400, mimetype="application/json")
    return {"rules": [rule.to_json() for rule in added]}


@dataclass(frozen=True)
class InjectedFailure:
    """What an invocation answers instead of running: the error payload and its log lines."""

    payload: str
    logs: str
    resets_sandbox: bool


def function_fault(function_name: str, request_id: str, timeout: float) -> InjectedFailure | None:
    """Asked by the executor before an invocation: sleeps for an injected latency, and
    returns the failure to answer with (None: run the function)."""
    if not BOOK.rules:
        return None
    rule = BOOK.function_fault(function_name, ("error", "timeout", "crash", "latency"))
    if rule is None:
        return None
    LOG.info("fault %s fires on function %s (%s)", rule.id, function_name, rule.fault)
    if rule.latency_ms:
        time.sleep(rule.latency_ms / 1000)
    return failure_for(rule, request_id, timeout)


def failure_for(rule: FaultRule, request_id: str, timeout: float) -> InjectedFailure | None:
    """The payload AWS Lambda answers for the rule's fault (None for latency alone)."""
    if rule.fault == "timeout":
        message = f"Task timed out after {timeout:.2f} seconds"
        return InjectedFailure(
            json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {request_id} Error: {message}"}),
            f"{request_id} {message} (injected fault {rule.id})\n",
            resets_sandbox=True,
        )
    if rule.fault == "crash":
        error = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
        return InjectedFailure(
            json.dumps({"errorType": "Runtime.ExitError", "errorMessage": error}),
            f"{error} (injected fault {rule.id})\n",
            resets_sandbox=True,
        )
    if rule.fault == "error":
        return InjectedFailure(
            json.dumps({"errorType": rule.error, "errorMessage": rule.text, "stackTrace": []}),
            f"[ERROR] {rule.error}: {rule.text}\n",
            resets_sandbox=False,
        )
    return None
