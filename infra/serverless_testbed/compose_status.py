"""`testbed status --target compose`: is the compose LocalStack up, did its deploy hook succeed,
and where to look when it did not.

The verdict follows compose.yaml's healthcheck (which must stay self-contained in the image):
LocalStack marks the ready stage completed even when a hook failed, so the state of every
init script counts. Only the standard library is used.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from typing import Any

DEPLOY_HOOK = "10-deploy.sh"
WHERE_TO_LOOK = (
    "  the hook's output: docker compose logs localstack (the 'testbed:' lines and the deploy's error above them)",
    "  the healthcheck's verdict: docker inspect --format '{{json .State.Health}}' $(docker compose ps -q localstack)",
    "  after fixing the cause: docker compose restart localstack (the hook deploys again)",
)


@dataclass(frozen=True)
class ComposeStatus:
    """The compose LocalStack as its endpoints describe it."""

    healthy: bool
    summary: str
    hints: tuple[str, ...] = field(default_factory=tuple)

    def lines(self) -> list[str]:
        return [self.summary, *self.hints]


def ready_status(endpoint: str, ready: dict[str, Any]) -> ComposeStatus:
    """The verdict on `/_localstack/init/ready`'s answer: healthy when the stage completed and
    every script, the deploy hook among them, ended SUCCESSFUL."""
    states = {str(script.get("name")): str(script.get("state")) for script in ready.get("scripts") or []}
    if ready.get("completed") is not True:
        return ComposeStatus(
            False,
            f"compose: LocalStack answers at {endpoint}; init hooks still running: {json.dumps(states)}",
            ("  follow them: docker compose logs -f localstack",),
        )
    if DEPLOY_HOOK not in states:
        return ComposeStatus(
            False,
            f"compose: LocalStack answers at {endpoint} but the deploy hook {DEPLOY_HOOK} did not run "
            "(is infra/compose/ready.d mounted at /etc/localstack/init/ready.d?)",
            WHERE_TO_LOOK,
        )
    failed = {name: state for name, state in states.items() if state != "SUCCESSFUL"}
    if failed:
        return ComposeStatus(
            False,
            f"compose: LocalStack answers at {endpoint} but init hooks failed: {json.dumps(failed)}; "
            "the stack is not (fully) deployed",
            WHERE_TO_LOOK,
        )
    return ComposeStatus(True, f"compose: LocalStack at {endpoint}, stack deployed by {DEPLOY_HOOK} (SUCCESSFUL)")


def compose_status(endpoint: str) -> ComposeStatus:
    """Ask the compose LocalStack at `endpoint` how it and its deploy hook are."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/init/ready", timeout=5) as answer:
            ready = json.load(answer)
    except (OSError, ValueError) as err:
        return ComposeStatus(
            False,
            f"compose: no LocalStack answers at {endpoint} ({err})",
            ("  start it: docker compose up -d --wait; what it did: docker compose logs localstack",),
        )
    if not isinstance(ready, dict):
        return ComposeStatus(False, f"compose: {endpoint}/_localstack/init/ready answered {ready!r}, not LocalStack's")
    return ready_status(endpoint, ready)
