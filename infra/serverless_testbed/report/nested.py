"""Executions an execution started: nested state machines (`startExecution.sync`).

A parent's history names its child executions only in the output (or failure cause) of
its startExecution tasks; this finds those ARNs and reads the children, so the child
machines' pictures show what the children did. A Distributed Map's iterations are child
executions too, but LocalStack 4.14.0 cannot list a map run's executions, so those are
not followed (the picture says their states are not traced).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from serverless_testbed.clients import Clients
from serverless_testbed.executions import Execution, wait_execution

_EXECUTION_ARN = re.compile(r"arn:aws[\w-]*:states:[\w-]*:\d*:execution:[^\"\\\s,}]+")


def child_arns(execution: Execution) -> list[str]:
    """The ARNs of the executions `execution`'s startExecution tasks started, in order."""
    found: list[str] = []
    for event in execution.history:
        for key in ("taskSucceededEventDetails", "taskFailedEventDetails"):
            details = event.get(key) or {}
            if str(details.get("resource", "")).startswith("startExecution"):
                text = str(details.get("output") or details.get("cause") or "")
                found += [arn for arn in _EXECUTION_ARN.findall(text) if arn != execution.arn and arn not in found]
    return found


def children(clients: Clients, executions: Iterable[Execution], timeout: float = 30) -> list[Execution]:
    """Every execution the given ones started, and theirs, read from the engine."""
    seen: set[str] = set()
    found: list[Execution] = []
    queue = list(executions)
    while queue:
        parent = queue.pop(0)
        for arn in child_arns(parent):
            if arn in seen:
                continue
            seen.add(arn)
            child = wait_execution(clients, arn, timeout=timeout)
            found.append(child)
            queue.append(child)
    return found
