"""The FastAPI app of the processing workflow: `POST /process-data/` forwards to the API Gateway endpoint.

The request is checked first (the same rules and reason codes as the processing Lambda,
`src/processing_process/rules.py`): a bad one gets 400 with
`{"error": "BadRequest", "message", "reasons"}` and never leaves the app. A good one is
sent to the deployed `POST /process-data` and the Lambda's answer (status and body) is
returned as it is. An API that cannot be reached or answers 5xx gives 502, naming it.

Run it with one command, configured by the deployed URL (`testbed status` prints it):

    python src/api_app/app.py --api-url URL [--port 8000]
    PROCESS_DATA_URL=URL python -m uvicorn app:app_from_env --factory --app-dir src/api_app
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import urllib.parse
import urllib.request
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_VAR = "PROCESS_DATA_URL"
FORWARD_TIMEOUT = 30.0
MAX_MESSAGE = 1000  # the processing Lambda's limits
MAX_REQUEST_ID = 64
# The processing Lambda lists faults in this order; the app does too.
ORDER = (
    "no-body", "invalid-json", "not-an-object", "unknown-field", "missing-message", "message-not-a-string",
    "empty-message", "message-too-long", "request-id-invalid", "priority-not-an-integer", "priority-out-of-range",
)  # fmt: skip


class ProcessRequest(BaseModel):
    """A process-data request: a message, with an optional request id and priority."""

    model_config = ConfigDict(extra="forbid", strict=True)

    message: str = Field(min_length=1, max_length=MAX_MESSAGE, description="the text to process")
    # Optional, but never null: a default of None that JSON cannot spell.
    requestId: str = Field(default=None, min_length=1, max_length=MAX_REQUEST_ID)  # type: ignore[assignment]
    priority: int = Field(default=None, ge=1, le=5)  # type: ignore[assignment]

    @field_validator("message")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("'message' must not be empty or blank")
        return value


class BadRequest(Exception):
    """The request is refused; `reasons` are (code, message) pairs."""

    def __init__(self, reasons: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(message for _, message in reasons))
        self.reasons = sorted(reasons, key=lambda reason: ORDER.index(reason[0]) if reason[0] in ORDER else len(ORDER))

    def response(self) -> JSONResponse:
        content = {"error": "BadRequest", "message": str(self), "reasons": [code for code, _ in self.reasons]}
        return JSONResponse(status_code=400, content=content)


def parse(body: bytes) -> ProcessRequest:
    """The request in `body`, or BadRequest naming every fault."""
    if not body.strip():
        raise BadRequest([("no-body", 'the request has no body; send a JSON object such as {"message": "Hello"}')])
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        detail = f"the body is not UTF-8 text (byte {err.start}: {err.reason}); send the JSON encoded as UTF-8"
        raise BadRequest([("not-utf8", detail)]) from None
    try:
        payload = json.loads(text)
    except ValueError as err:
        raise BadRequest([("invalid-json", f"the body is not valid JSON ({err})")]) from None
    try:
        return ProcessRequest.model_validate(payload)
    except ValidationError as err:
        raise BadRequest(reasons(err.errors())) from None


def reasons(errors: list[Any]) -> list[tuple[str, str]]:
    """Pydantic's errors as the processing Lambda's reason codes, one per code."""
    found: dict[str, str] = {}
    unknown = [str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden"]
    if unknown:
        accepted = ", ".join(ProcessRequest.model_fields)
        found["unknown-field"] = f"unknown field(s) {', '.join(sorted(unknown))}; the accepted fields are {accepted}"
    for error in errors:
        field, kind = (str(error["loc"][0]) if error["loc"] else ""), error["type"]
        if kind == "extra_forbidden":
            continue
        code = _code(field, kind)
        text = error["msg"].removeprefix("Value error, ")
        found.setdefault(code, f"the body must be a JSON object ({text})" if not field else f"'{field}': {text}")
    return list(found.items())


def _code(field: str, kind: str) -> str:
    if not field:
        return "not-an-object"
    if field == "message":
        if kind == "missing":
            return "missing-message"
        if kind == "string_type":
            return "message-not-a-string"
        return "message-too-long" if kind == "string_too_long" else "empty-message"
    if field == "requestId":
        return "request-id-invalid"
    if field == "priority" and kind in ("greater_than_equal", "less_than_equal"):
        return "priority-out-of-range"
    return "priority-not-an-integer" if field == "priority" else f"{field}-invalid"


def create_app(api_url: str) -> FastAPI:
    """The app forwarding `POST /process-data/` to the API Gateway endpoint `api_url`."""
    if not api_url.startswith(("http://", "https://")):
        raise ValueError(f"the process-data API URL must be an http(s) URL, got {api_url!r}")
    app = FastAPI(title="process-data", description="Forwards process-data requests to API Gateway.")
    schema = {"required": True, "content": {"application/json": {"schema": ProcessRequest.model_json_schema()}}}

    @app.post("/process-data/", openapi_extra={"requestBody": schema})
    @app.post("/process-data", include_in_schema=False)
    async def process_data(request: Request) -> JSONResponse:
        try:
            payload = parse(await request.body())
        except BadRequest as err:
            return err.response()
        return await forward(api_url, payload.model_dump(exclude_unset=True))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "forwardsTo": api_url}

    return app


async def forward(api_url: str, payload: dict[str, Any]) -> JSONResponse:
    """The API's answer to `payload`, relayed; 502 when it cannot give one."""
    try:
        async with httpx.AsyncClient(timeout=FORWARD_TIMEOUT, **client_options(api_url)) as client:
            answer = await client.post(api_url, json=payload)
    except httpx.HTTPError as err:
        return _bad_gateway(f"cannot reach the process-data API at {api_url}: {type(err).__name__}: {err}")
    try:
        content = answer.json()
    except ValueError:
        return _bad_gateway(
            f"the process-data API at {api_url} answered {answer.status_code} with no JSON: {answer.text[:200]!r}"
        )
    if answer.status_code >= 500:
        return _bad_gateway(
            f"the process-data API at {api_url} answered {answer.status_code}: {json.dumps(content)[:200]}"
        )
    return JSONResponse(status_code=answer.status_code, content=content)


def client_options(url: str) -> dict[str, Any]:
    """Proxy and CA settings for `url` from the environment, read by the standard library:
    httpx's own reading fails on IPv6 NO_PROXY entries such as "[::1]" (LocalStack adds one)."""
    parts = urllib.parse.urlsplit(url)
    bypass = urllib.request.proxy_bypass(parts.hostname or "")
    proxy = None if bypass else urllib.request.getproxies().get(parts.scheme)
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    verify: ssl.SSLContext | bool = (
        ssl.create_default_context(cafile=cafile, capath=capath) if cafile or capath else True
    )
    return {"trust_env": False, "proxy": proxy, "verify": verify}


def _bad_gateway(message: str) -> JSONResponse:
    return JSONResponse(status_code=502, content={"error": "BadGateway", "message": message})


def app_from_env() -> FastAPI:
    """The app configured by $PROCESS_DATA_URL (for `uvicorn --factory`)."""
    url = os.environ.get(ENV_VAR)
    if not url:
        raise SystemExit(f"set {ENV_VAR} to the deployed POST /process-data URL (`testbed status` prints it)")
    return create_app(url)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Forward POST /process-data/ to the deployed API Gateway endpoint.")
    parser.add_argument("--api-url", default=os.environ.get(ENV_VAR), help=f"the API's URL (default: ${ENV_VAR})")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    if not args.api_url:
        parser.error(f"give --api-url or set {ENV_VAR} (`testbed status` prints the URL)")
    uvicorn.run(create_app(args.api_url), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
