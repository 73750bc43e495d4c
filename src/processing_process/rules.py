"""What a process-data request must look like, and what processing it gives.

A request is a JSON object: `message` (a non-blank string of at most MAX_MESSAGE
characters) is required; `requestId` (a string) and `priority` (an integer 1-5) are
optional; nothing else is accepted. Each fault has a reason code, the same one the
FastAPI app and the request generator (`fixtures/requests.py`) use. `problems` never
raises, whatever the payload holds (numbers of any length, lone surrogates from JSON
escapes, nested objects): text that is not valid Unicode is `message-not-unicode` (or
`request-id-invalid`), since it could not be hashed, logged or answered as UTF-8.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

MAX_MESSAGE = 1000
MAX_REQUEST_ID = 64
FIELDS = ("message", "requestId", "priority")


class InvalidRequest(Exception):
    """The request can never be processed; `reasons` are (code, message) pairs."""

    def __init__(self, reasons: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(message for _, message in reasons))
        self.reasons = reasons

    @property
    def codes(self) -> list[str]:
        return [code for code, _ in self.reasons]


def parse_body(body: str | None) -> Any:
    """The JSON document of an HTTP body; InvalidRequest when there is none or it is not JSON."""
    if body is None or not body.strip():
        raise InvalidRequest([("no-body", 'the request has no body; send a JSON object such as {"message": "Hello"}')])
    try:
        return json.loads(body)
    except ValueError as err:
        raise InvalidRequest([("invalid-json", f"the body is not valid JSON ({err})")]) from None


def problems(payload: Any, subject: str = "the body") -> list[tuple[str, str]]:
    """Every fault of `payload` as (code, message); empty when it can be processed;
    `subject` is what the payload is called in messages."""
    if not isinstance(payload, dict):
        return [("not-an-object", f"{subject} must be a JSON object, got {_json_type(payload)}")]
    found: list[tuple[str, str]] = []
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        allowed = ", ".join(FIELDS)
        found.append(("unknown-field", f"unknown field(s) {', '.join(unknown)}; the accepted fields are {allowed}"))
    if "message" not in payload:
        found.append(("missing-message", "the field 'message' is required"))
    elif not isinstance(payload["message"], str):
        found.append(("message-not-a-string", f"'message' must be a string, got {_json_type(payload['message'])}"))
    elif not payload["message"].strip():
        found.append(("empty-message", "'message' must not be empty or blank"))
    elif not _unicode(payload["message"]):
        found.append(("message-not-unicode", "'message' holds a lone surrogate (\\ud800-\\udfff), not valid Unicode"))
    elif len(payload["message"]) > MAX_MESSAGE:
        found.append(
            (
                "message-too-long",
                f"'message' has {len(payload['message'])} characters; at most {MAX_MESSAGE} are accepted",
            )
        )
    if "requestId" in payload:
        request_id = payload["requestId"]
        if not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_REQUEST_ID or not _unicode(request_id):
            seen = f"{len(request_id)} characters" if isinstance(request_id, str) else _json_type(request_id)
            found.append(
                ("request-id-invalid", f"'requestId' must be a string of 1 to {MAX_REQUEST_ID} characters, got {seen}")
            )
    if "priority" in payload:
        priority = payload["priority"]
        if not isinstance(priority, int) or isinstance(priority, bool):
            found.append(("priority-not-an-integer", f"'priority' must be an integer, got {_json_type(priority)}"))
        elif not 1 <= priority <= 5:
            shown = priority if abs(priority) < 10**18 else f"a number of {len(f'{priority:x}')} hex digits"
            found.append(("priority-out-of-range", f"'priority' must be between 1 and 5, got {shown}"))
    return found


def process(payload: dict[str, Any]) -> dict[str, Any]:
    """The processing of a valid request: a summary of its message."""
    message: str = payload["message"]
    return {
        "status": "processed",
        "requestId": payload.get("requestId"),
        "priority": payload.get("priority", 3),
        "message": message,
        "summary": {
            "characters": len(message),
            "words": len(message.split()),
            "sha256": hashlib.sha256(message.encode()).hexdigest(),
        },
        "reply": f"Processed: {message.strip()}",
    }


def _unicode(text: str) -> bool:
    """Whether `text` can be encoded as UTF-8 (a lone surrogate cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
