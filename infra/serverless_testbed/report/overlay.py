"""What executions did on a machine's graph, read from their histories.

`trace(graph, history)` follows one execution: the states it entered, the edge it took
out of each (which Choice branch, which Catch, with the error caught), the retries of
each state, the state it failed in and the cause. `Overlay` adds traces up: how many
executions entered each state and took each edge. The same `Overlay` draws one
execution's path, the aggregate of a run, and the coverage of a test session.

A transition is found by its end: when a state is entered, its predecessor is the
latest exited state with an edge to it (so interleaved Map iterations still pair up).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from serverless_testbed.report.asl_graph import END, START, EdgeKey, MachineGraph

_FAILURES = ("Failed", "TimedOut", "StartFailed", "SubmitFailed", "ScheduleFailed")


@dataclass
class Trace:
    """One execution on the graph."""

    entries: Counter[str] = field(default_factory=Counter)  # state -> times entered
    edges: Counter[EdgeKey] = field(default_factory=Counter)  # edge -> times taken
    retries: Counter[str] = field(default_factory=Counter)  # state -> attempts retried
    caught: dict[EdgeKey, Counter[str]] = field(default_factory=dict)  # catch edge -> errors caught
    failed_state: str | None = None
    error: str | None = None
    cause: str | None = None
    status: str = "RUNNING"


@dataclass
class Overlay:
    """Traces added up: how many executions entered each state and took each edge."""

    executions: int = 0
    states: Counter[str] = field(default_factory=Counter)  # state -> executions that entered it
    entries: Counter[str] = field(default_factory=Counter)  # state -> times entered, all executions
    edges: Counter[EdgeKey] = field(default_factory=Counter)  # edge -> times taken, all executions
    retries: Counter[str] = field(default_factory=Counter)
    caught: dict[EdgeKey, Counter[str]] = field(default_factory=dict)
    failed: dict[str, Counter[str]] = field(default_factory=dict)  # state -> errors it failed executions with
    causes: list[tuple[str, str, str]] = field(default_factory=list)  # (state, error, cause) per failed execution
    iterations: int = 0  # Distributed Map child executions added
    untraced_map_runs: int = 0  # executions whose map runs' children the engine could not list

    def add(self, trace: Trace, count_execution: bool = True) -> Overlay:
        """Add one execution's trace (`count_execution=False` for a Map iteration's own history)."""
        self.executions += int(count_execution)
        self.iterations += int(not count_execution)
        self.states.update(set(trace.entries))
        self.entries.update(trace.entries)
        self.edges.update(trace.edges)
        self.retries.update(trace.retries)
        for key, errors in trace.caught.items():
            self.caught.setdefault(key, Counter()).update(errors)
        if trace.failed_state:
            self.failed.setdefault(trace.failed_state, Counter())[trace.error or "failed"] += 1
            self.causes.append((trace.failed_state, trace.error or "", trace.cause or ""))
        return self

    @property
    def max_edge(self) -> int:
        return max(self.edges.values(), default=0)


def overlay(
    graph: MachineGraph,
    histories: Iterable[list[dict[str, Any]]],
    iterations: Iterable[list[dict[str, Any]]] = (),
    untraced_map_runs: int = 0,
) -> Overlay:
    """The aggregate of the executions whose histories are given, and of their Distributed
    Map child executions (`iterations`, not counted as executions)."""
    total = Overlay(untraced_map_runs=untraced_map_runs)
    for history in histories:
        total.add(trace(graph, history))
    for history in iterations:
        total.add(trace(graph, history), count_execution=False)
    return total


def trace(graph: MachineGraph, history: list[dict[str, Any]]) -> Trace:
    """Follow one execution's history (or one Map iteration's child execution) on `graph`."""
    found = Trace()
    open_states: list[str] = []  # entered, not yet exited (innermost last)
    exited: list[str] = []  # exited, successor not yet seen
    failures: Counter[str] = Counter()  # failed attempts of the state's current entry
    last_error: dict[str, str] = {}
    for event in sorted(history, key=lambda e: int(e.get("id", 0))):
        kind = str(event["type"])
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            _enter(graph, found, name, exited, failures, last_error)
            open_states.append(name)
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            if name in open_states:
                open_states.remove(name)
            exited.append(name)
        elif kind.endswith(_FAILURES) and not kind.startswith("Execution") and open_states:
            state = _innermost_task(graph, open_states)
            failures[state] += 1
            last_error[state] = _error_of(event)[0] or kind
        elif kind in ("ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"):
            found.status = kind.removeprefix("Execution").upper()
            found.error, found.cause = _error_of(event)
            found.failed_state = _failing_state(graph, open_states, exited)
            if found.failed_state:
                found.retries[found.failed_state] += max(failures[found.failed_state] - 1, 0)
        elif kind == "ExecutionSucceeded":
            found.status = "SUCCEEDED"
            # The terminal states left with no successor ended the execution (not by a Catch).
            for name in exited:
                ended = graph.states.get(name)
                if ended is not None and ended.terminal and ended.parent is None:
                    found.edges[(name, END, "end")] += 1
                    found.retries[name] += failures.pop(name, 0)
    return found


def _enter(
    graph: MachineGraph,
    found: Trace,
    name: str,
    exited: list[str],
    failures: Counter[str],
    last_error: dict[str, str],
) -> None:
    """Count `name` entered and the edge that led to it (settling the predecessor's retries)."""
    found.entries[name] += 1
    for index in range(len(exited) - 1, -1, -1):
        source = exited[index]
        edges = graph.edges_between(source, name)
        if not edges:
            continue
        del exited[index]
        failed = failures.pop(source, 0)
        catch = next((e for e in edges if e.kind == "catch"), None)
        ordinary = next((e for e in edges if e.kind != "catch"), None)
        # A failed last attempt leaves by a Catch; otherwise the failures were retried.
        if catch and (failed or not ordinary):
            found.edges[catch.key] += 1
            found.caught.setdefault(catch.key, Counter())[last_error.pop(source, "error")] += 1
            found.retries[source] += max(failed - 1, 0)
        elif ordinary:
            found.edges[ordinary.key] += 1
            found.retries[source] += failed
        return
    start = graph.container_of_start(name) or (START if name == graph.start else None)
    if start and graph.edge((start, name, "start")):
        found.edges[(start, name, "start")] += 1


def _innermost_task(graph: MachineGraph, open_states: list[str]) -> str:
    """The open state a task failure belongs to: the latest entered one that is not a container."""
    for name in reversed(open_states):
        if name not in graph.containers:
            return name
    return open_states[-1]


def _failing_state(graph: MachineGraph, open_states: list[str], exited: list[str]) -> str | None:
    if open_states:
        return _innermost_task(graph, open_states)
    fails = [name for name in exited if graph.states.get(name) and graph.states[name].type == "Fail"]
    return fails[-1] if fails else (exited[-1] if exited else None)


def _error_of(event: dict[str, Any]) -> tuple[str | None, str | None]:
    """The error and cause of a failure event, whatever its details are called."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict) and ("error" in value or "cause" in value):
            return value.get("error"), value.get("cause")
    return None, None
