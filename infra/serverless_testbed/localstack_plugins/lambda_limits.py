"""Lambda's invocation payload limits, enforced as AWS enforces them (an on_infra_start hook).

AWS refuses an invocation whose request payload is too large before running anything:
6 MB (6,291,456 bytes) for a synchronous `Invoke`, 1 MB (1,048,576 bytes) for an
asynchronous one (`InvocationType=Event`; it was 256 KB until AWS raised it in 2025),
answering HTTP 413 `RequestEntityTooLargeException` (the Lambda API reference, Invoke, read
2026-12). LocalStack 4.14.0 checks only the 6 MB response; a request of any size ran the
function. (The deprecated `InvokeAsync`, 256 KB on AWS, LocalStack 4.14.0 does not serve.)
A request handler in the gateway chain sees every invocation, from clients and from Step
Functions' Lambda integrations alike.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

SYNC_LIMIT = 6 * 1024 * 1024
EVENT_LIMIT = 1024 * 1024


@hooks.on_infra_start()
@only_in_testbed_engine(fidelity=True)  # off in stock mode: the engine answers as stock LocalStack
def enforce_payload_limits() -> None:
    from localstack.aws import handlers

    handlers.serve_custom_service_request_handlers.append(refuse_oversized_payloads)


def payload_limit(operation: str, params: dict[str, Any]) -> int | None:
    """AWS's limit on the request payload of a Lambda call; None for calls it does not limit."""
    if operation != "Invoke" or params.get("InvocationType") == "DryRun":
        return None
    return EVENT_LIMIT if params.get("InvocationType") == "Event" else SYNC_LIMIT


def body_size(request: Any) -> int:
    """The request body's size, from Content-Length (the payload is a stream LocalStack reads
    later: reading it here would leave the function an empty event), else the cached body."""
    length = request.headers.get("Content-Length")
    if length is not None and str(length).isdigit():
        return int(length)
    return len(request.get_data(cache=True))


def refuse_oversized_payloads(chain: Any, context: Any, response: Any) -> None:
    """Gateway handler: a Lambda invocation over AWS's payload limit is refused with AWS's error."""
    if context.service is None or context.operation is None or context.service.service_name != "lambda":
        return
    limit = payload_limit(context.operation.name, context.service_request or {})
    if limit is None or body_size(context.request) <= limit:
        return
    from localstack.aws.api import CommonServiceException

    raise CommonServiceException(
        "RequestEntityTooLargeException",
        f"Request must be smaller than {limit} bytes for the {context.operation.name} operation",
        status_code=413,
        sender_fault=True,
    )
