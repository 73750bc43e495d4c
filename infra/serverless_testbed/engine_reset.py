"""Emptying a running embedded engine between test modules, without restarting it.

`reset_engine` asks the engine's `/_testbed/reset` endpoint (localstack_plugins/reset.py says
what is emptied and what is kept) and optionally makes another file its Step Functions Local
mock configuration; `delete_stack` empties it of one CloudFormation stack only (DeleteStack,
waited for). `testbed reset` and the pytest plugin's `testbed_reset` fixture use both.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from serverless_testbed.errors import BadInput, EngineNotUp, TestbedError
from serverless_testbed.waiting import wait_for

RESET_PATH = "/_testbed/reset"
RESET_TIMEOUT = 120.0


def checked_mock_config(path: str | Path) -> Path:
    """`path` as an absolute path to a readable JSON file; BadInput saying what is wrong."""
    file = Path(path).expanduser().resolve()
    try:
        json.loads(file.read_text(encoding="utf-8"))
    except OSError as err:
        raise BadInput(f"mock config {path}: cannot be read ({err.strerror or err})") from err
    except ValueError as err:
        raise BadInput(f"mock config {path}: not JSON ({err})") from err
    return file


def reset_engine(endpoint_url: str, mock_config: str | Path | None = None, *, empty: bool = True) -> dict[str, Any]:
    """Empty the engine at `endpoint_url` of everything but itself (unless `empty` is False: then
    only the mock configuration changes); its answer (services reset, failures, seconds, the mock
    configuration now in use)."""
    body: dict[str, Any] = {"empty": empty}
    if mock_config is not None:
        body["mock_config"] = str(checked_mock_config(mock_config))
    request = urllib.request.Request(
        endpoint_url.rstrip("/") + RESET_PATH,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=RESET_TIMEOUT) as response:
            answer: dict[str, Any] = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        text = err.read().decode(errors="replace")
        if err.code == 404:
            raise TestbedError(f"{endpoint_url} answered 404: only the embedded engine can be reset") from None
        raise TestbedError(f"reset of {endpoint_url} answered {err.code}: {text[:300]}") from None
    except urllib.error.URLError as err:
        raise EngineNotUp(f"no engine answers at {endpoint_url} ({err.reason})") from None
    if answer.get("failed"):
        failed = ", ".join(f"{name}: {error}" for name, error in answer["failed"].items())
        raise TestbedError(f"the engine was reset but for {failed} (its log says more)")
    return answer


def delete_stack(cloudformation: Any, name: str, timeout: float = RESET_TIMEOUT) -> None:
    """Delete CloudFormation stack `name` and wait until it is gone; BadInput when there is none."""
    from botocore.exceptions import ClientError

    try:
        stack_id = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
    except ClientError as err:
        raise BadInput(f"no stack {name!r} on this engine ({err.response['Error'].get('Message', err)})") from None
    cloudformation.delete_stack(StackName=stack_id)

    def settled() -> str | None:
        status: str = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        return status if status in ("DELETE_COMPLETE", "DELETE_FAILED") else None

    if wait_for(settled, timeout=timeout, what=f"stack {name} to be deleted") == "DELETE_FAILED":
        raise TestbedError(f"stack {name} could not be deleted (DELETE_FAILED); its events say why")
