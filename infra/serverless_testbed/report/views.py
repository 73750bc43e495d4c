"""What the report says about one workflow run, worked out from its `RunResult`.

Executions are grouped by the machine they ran (nested children included, and the child
executions of its Distributed Map runs, drawn inside the map); per machine the aggregate
overlay, the distinct paths with one example execution each, the failures with their
causes, and timings (executions and the states that took longest).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from serverless_testbed.executions import Execution
from serverless_testbed.report.asl_graph import MachineGraph
from serverless_testbed.report.machines import machine_of
from serverless_testbed.report.nested import Iterations
from serverless_testbed.report.overlay import Overlay, Trace, overlay, trace
from serverless_testbed.stack.model import Context, StateMachine
from serverless_testbed.stack.stack import Stack


@dataclass
class PathGroup:
    """Executions that took the same path to the same end."""

    status: str
    path: tuple[str, ...]
    error: str
    executions: list[Execution]

    @property
    def example(self) -> Execution:
        return self.executions[0]


@dataclass
class MachineView:
    """One machine of a workflow and what the run's executions did on it."""

    graph: MachineGraph
    executions: list[Execution] = field(default_factory=list)
    iterations: Iterations = field(default_factory=Iterations)

    @property
    def overlay(self) -> Overlay:
        return self.overlay_of(self.executions)

    def overlay_of(self, executions: list[Execution]) -> Overlay:
        """What `executions` and their Distributed Map children did on this machine."""
        return overlay(
            self.graph,
            (execution.history for execution in executions),
            (child.history for execution in executions for child in self.iterations.of(execution.arn)),
            sum(execution.arn in self.iterations.untraced for execution in executions),
        )

    def trace(self, execution: Execution) -> Trace:
        return trace(self.graph, execution.history)

    @property
    def paths(self) -> list[PathGroup]:
        groups: dict[tuple[str, tuple[str, ...], str], list[Execution]] = defaultdict(list)
        for execution in self.executions:
            groups[(execution.status, tuple(execution.path), execution.error or "")].append(execution)
        ordered = sorted(groups.items(), key=lambda item: -len(item[1]))
        return [PathGroup(status, path, error, found) for (status, path, error), found in ordered]

    @property
    def failures(self) -> list[Execution]:
        return [execution for execution in self.executions if not execution.succeeded]

    def timings(self) -> dict[str, str]:
        """Execution durations (median, slowest) and the states that took longest on average."""
        seconds = [execution.seconds for execution in self.executions if execution.seconds]
        if not seconds:
            return {}
        found = {
            "executions": str(len(self.executions)),
            "median": f"{statistics.median(seconds):.2f} s",
            "slowest": f"{max(seconds):.2f} s",
        }
        per_state = state_seconds(self.executions)
        slowest = sorted(per_state.items(), key=lambda item: -statistics.mean(item[1]))[:3]
        if slowest:
            found["slowest states (mean)"] = ", ".join(f"{name} {statistics.mean(s):.2f} s" for name, s in slowest)
        return found


def state_seconds(executions: list[Execution]) -> dict[str, list[float]]:
    """Seconds from entering to leaving each state, every time it was entered and left."""
    found: dict[str, list[float]] = defaultdict(list)
    for execution in executions:
        entered: dict[str, Any] = {}
        for event in execution.history:
            kind, stamp = str(event["type"]), event.get("timestamp")
            if kind.endswith("StateEntered"):
                entered[event["stateEnteredEventDetails"]["name"]] = stamp
            elif kind.endswith("StateExited"):
                name = event["stateExitedEventDetails"]["name"]
                start = entered.pop(name, None)
                if start is not None and stamp is not None:
                    found[name].append((stamp - start).total_seconds())
    return found


def machine_views(
    stack: Stack,
    graphs: dict[str, MachineGraph],
    ctx: Context,
    executions: list[Execution],
    iterations: Iterations | None = None,
) -> list[MachineView]:
    """One view per machine of `stack`, holding the executions that ran it (and the child
    executions of their Distributed Map runs, `iterations`)."""
    found = iterations or Iterations()
    views = {
        machine.name: MachineView(graphs[machine.name], iterations=found) for machine in stack.of_kind(StateMachine)
    }
    for execution in executions:
        name = machine_of(execution.arn, stack, ctx)
        if name in views:
            views[name].executions.append(execution)
    return list(views.values())


def execution_input(execution: Execution) -> Any:
    """The input an execution started with, from its history."""
    for event in execution.history:
        details = event.get("executionStartedEventDetails")
        if details is not None:
            text = details.get("input")
            try:
                return json.loads(text) if text else None
            except ValueError:
                return text
    return None
