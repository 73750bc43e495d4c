"""Step Functions executions: find the one a trigger started, wait for it, read its path.

Used by `testbed run` and by the integration tests alike, so both report the same
truth: the status, the output or error, and the path of states the execution took.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.waiting import wait_for

_ENTERED = ("StateEntered",)
_LEFT = {
    f"{state}{outcome}"
    for state in ("MapState", "ParallelState", "MapRun")
    for outcome in ("Succeeded", "Failed", "Aborted")
}


@dataclass(frozen=True)
class Execution:
    """A finished execution as a user wants to see it."""

    arn: str
    status: str
    path: list[str]
    output: Any = None
    error: str | None = None
    cause: str | None = None
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


Listener = Callable[[Clients, "Execution"], None]
_LISTENERS: list[Listener] = []


def on_finished(listener: Listener) -> Callable[[], None]:
    """Call `listener(clients, execution)` for every execution `wait_execution` returns (the
    test suite draws their paths, infra/serverless_testbed/report/pytest_pictures.py); returns the unsubscribe."""
    _LISTENERS.append(listener)
    return lambda: _LISTENERS.remove(listener)


def wait_execution(
    clients: Clients, arn: str, timeout: float = 120, watch: Callable[[], None] | None = None
) -> Execution:
    """Wait (bounded polling) until `arn` is no longer RUNNING and describe it; `watch` is
    called at each look while it runs (to show how far it got)."""
    sfn = clients("stepfunctions")

    def finished() -> dict[str, Any] | None:
        described: dict[str, Any] = dict(sfn.describe_execution(executionArn=arn))
        if described["status"] == "RUNNING":
            if watch is not None:
                watch()
            return None
        return described

    described: dict[str, Any] = wait_for(
        finished, timeout=timeout, interval=0.05, max_interval=0.5, what=f"execution {arn} to finish"
    )
    execution = _execution(clients, arn, described)
    for listener in list(_LISTENERS):
        listener(clients, execution)
    return execution


def read_execution(clients: Clients, arn: str) -> Execution:
    """An execution as it stands now (finished or not), without telling the listeners: what
    the report reads of a Distributed Map's child executions."""
    described = dict(clients("stepfunctions").describe_execution(executionArn=arn))
    return _execution(clients, arn, described)


def _execution(clients: Clients, arn: str, described: dict[str, Any]) -> Execution:
    history = execution_history(clients, arn)
    output = described.get("output")
    return Execution(
        arn=arn,
        status=described["status"],
        path=state_path(history),
        output=json.loads(output) if output else None,
        error=described.get("error"),
        cause=described.get("cause"),
        seconds=(described["stopDate"] - described["startDate"]).total_seconds() if described.get("stopDate") else 0.0,
        history=history,
    )


def map_items(clients: Clients, arn: str) -> tuple[int, int] | None:
    """How many items the Distributed Map runs of execution `arn` finished, of how many
    (`DescribeMapRun` item counts); None before a map run started."""
    sfn = clients("stepfunctions")
    runs = sfn.list_map_runs(executionArn=arn).get("mapRuns", [])
    if not runs:
        return None
    done = total = 0
    for run in runs:
        counts: dict[str, Any] = dict(sfn.describe_map_run(mapRunArn=run["mapRunArn"]).get("itemCounts", {}))
        done += sum(int(counts.get(key, 0)) for key in ("succeeded", "failed", "timedOut", "aborted"))
        total += int(counts.get("total", 0))
    return done, total


def wait_executions(
    clients: Clients, arns: list[str], timeout: float = 120, finished: Callable[[Execution], None] | None = None
) -> list[Execution]:
    """Wait for every execution of `arns` (eight at a time), in their order; `finished`
    hears of each as it ends, in the order they end."""
    from concurrent.futures import ThreadPoolExecutor

    def one(arn: str) -> Execution:
        execution = wait_execution(clients, arn, timeout)
        if finished is not None:
            finished(execution)
        return execution

    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="wait") as pool:
        return list(pool.map(one, arns))


def execution_history(clients: Clients, arn: str) -> list[dict[str, Any]]:
    paginator = clients("stepfunctions").get_paginator("get_execution_history")
    return [dict(event) for page in paginator.paginate(executionArn=arn) for event in page["events"]]


def state_path(history: list[dict[str, Any]]) -> list[str]:
    """The top-level states entered, in order (states inside Map/Parallel excluded)."""
    path: list[str] = []
    depth = 0
    for event in history:
        kind = event["type"]
        if depth == 0 and kind.endswith(_ENTERED):
            path.append(event["stateEnteredEventDetails"]["name"])
        if kind in ("MapStateStarted", "ParallelStateStarted", "MapRunStarted"):
            depth += 1
        elif kind in _LEFT:
            depth = max(depth - 1, 0)
    return path


def start(clients: Clients, machine_arn: str, payload: Any, name: str | None = None) -> str:
    params: dict[str, Any] = {"stateMachineArn": machine_arn, "input": json.dumps(payload)}
    if name:
        params["name"] = name
    arn: str = clients("stepfunctions").start_execution(**params)["executionArn"]
    return arn


def started_after(clients: Clients, machine_arn: str, known: set[str], timeout: float = 30) -> str:
    """The ARN of the first execution of `machine_arn` not in `known` (one a trigger started)."""
    sfn = clients("stepfunctions")

    def new_execution() -> str | None:
        executions = sfn.list_executions(stateMachineArn=machine_arn, maxResults=100)["executions"]
        fresh = [e["executionArn"] for e in executions if e["executionArn"] not in known]
        return fresh[0] if fresh else None

    found: str = wait_for(new_execution, timeout=timeout, what=f"a new execution of {machine_arn}")
    return found


def known_executions(clients: Clients, machine_arn: str) -> set[str]:
    paginator = clients("stepfunctions").get_paginator("list_executions")
    return {e["executionArn"] for page in paginator.paginate(stateMachineArn=machine_arn) for e in page["executions"]}
