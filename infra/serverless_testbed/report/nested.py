"""Executions an execution started: nested state machines (`startExecution.sync`).

A parent's history names its child executions only in the output (or failure cause) of
its startExecution tasks; this finds those ARNs and reads the children, so the child
machines' pictures show what the children did. A Distributed Map's iterations are child
executions too, listed by their map run (`map_run_iterations`); an engine that cannot list
them (a stock LocalStack 4.14.0) leaves the map's states untraced, and the picture says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from serverless_testbed.clients import Clients
from serverless_testbed.coverage import map_run_arns, map_run_children
from serverless_testbed.executions import Execution, read_execution, wait_execution

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


@dataclass
class Iterations:
    """The child executions of the Distributed Map runs of some executions, by parent ARN;
    `untraced`: the parents whose map runs the engine could not list."""

    by_parent: dict[str, list[Execution]] = field(default_factory=dict)
    untraced: set[str] = field(default_factory=set)

    def of(self, parent: str) -> list[Execution]:
        return self.by_parent.get(parent, [])


def map_run_iterations(clients: Clients, executions: Iterable[Execution], limit: int = 500) -> Iterations:
    """Every child execution of the Distributed Map runs the given executions started (up to
    `limit` per map run), read from the engine with its history."""
    found = Iterations()
    sfn = clients("stepfunctions")
    for execution in executions:
        for run_arn in map_run_arns(execution.history):
            listed = map_run_children(sfn, run_arn)
            if listed is None:
                found.untraced.add(execution.arn)
                continue
            children = [read_execution(clients, child["executionArn"]) for child in listed[:limit]]
            found.by_parent.setdefault(execution.arn, []).extend(children)
    return found
