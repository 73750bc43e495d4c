"""The processing Lambda, behind API Gateway and inside the data-processing state machine.

Through API Gateway (Lambda proxy integration) it answers in proxy format: 200 with the
processed data, 400 with `{"error", "message", "reasons"}` naming every fault of the
request (`not-utf8` for a body that is not UTF-8 text: it is never decoded with replacement
characters). Invoked by the state machine (`{"input": <request>, "execution": <name>}`) it
returns the processed data or raises `InvalidRequest` for a request that can never be
processed (the state machine catches it).
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from rules import InvalidRequest, parse_body, problems, process

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)


def handler(event: Any, context: Any) -> dict[str, Any]:
    if is_proxy_event(event):
        return http_answer(event)
    return run_step(event)


def is_proxy_event(event: Any) -> bool:
    """An API Gateway proxy event carries the HTTP method and the request context."""
    return isinstance(event, dict) and "httpMethod" in event and "requestContext" in event


def http_answer(event: dict[str, Any]) -> dict[str, Any]:
    """The proxy-format answer to one HTTP request."""
    body = event.get("body")
    try:
        if body is not None and event.get("isBase64Encoded"):
            body = utf8_text(base64.b64decode(body))
        payload = parse_body(body)
        found = problems(payload)
        if found:
            raise InvalidRequest(found)
    except InvalidRequest as err:
        LOG.info(json.dumps({"event": "rejected", "reasons": err.codes}))
        return proxy(400, {"error": "BadRequest", "message": str(err), "reasons": err.codes})
    result = process(payload)
    LOG.info(json.dumps({"event": "processed", "requestId": result["requestId"]}))
    return proxy(200, result)


def utf8_text(raw: bytes) -> str:
    """The body as text; InvalidRequest (not-utf8) naming the first bad byte otherwise.
    API Gateway passes a body that is not UTF-8 base64-encoded: never guess its characters."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        detail = f"the body is not UTF-8 text (byte {err.start}: {err.reason}); send the JSON encoded as UTF-8"
        raise InvalidRequest([("not-utf8", detail)]) from None


def proxy(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def run_step(event: Any) -> dict[str, Any]:
    """One state machine step: the processed request, or an exception naming the failure."""
    if isinstance(event, dict) and "input" in event:
        payload, execution = event["input"], event.get("execution")
    else:
        payload, execution = event, None
    found = problems(payload, subject="the input")
    if found:
        raise InvalidRequest(found)
    result = process(payload)
    LOG.info(json.dumps({"event": "processed", "execution": execution, "requestId": result["requestId"]}))
    return result
