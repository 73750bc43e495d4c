"""A state machine's definition (ASL) as a graph: states, labelled transitions, containers.

Every state becomes a `State`; every way out of a state an `Edge`: `next`, a Choice rule
(`choice`, labelled with the rule), `default`, `catch` (labelled with the errors it
catches), `start` (into the first state of a machine or of a Map/Parallel branch) and
`end` (out of a top-level terminal state). Map and Parallel states are `Container`s that
hold their inner states; a Task that runs another state machine (`startExecution.sync`)
names the child machine. State names are unique in a whole machine (ASL requires it), so
they are the ids: execution histories name states the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from serverless_testbed.report.choice_rules import describe, grouped

START, END = "__start__", "__end__"
EdgeKind = Literal["start", "next", "choice", "default", "catch", "end"]
EdgeKey = tuple[str, str, str]


@dataclass(frozen=True)
class State:
    """One state: its type, where it sits, what it calls."""

    name: str
    type: str
    parent: str | None = None  # the Map or Parallel state holding it
    branch: int = 0  # which branch of a Parallel
    action: str = ""  # what a Task calls, short: "lambda:invoke", "dynamodb:putItem"
    child_machine: str | None = None  # the machine a startExecution task runs (its name, else its ARN)
    retries: tuple[str, ...] = ()  # the errors its Retry rules retry
    terminal: bool = False  # End: true, or a Succeed state


@dataclass(frozen=True)
class Edge:
    """A way from one state to another."""

    source: str
    target: str
    kind: EdgeKind
    label: str = ""

    @property
    def key(self) -> EdgeKey:
        return (self.source, self.target, self.kind)


@dataclass(frozen=True)
class Container:
    """A Map or Parallel state and its branches (a Map has one)."""

    name: str
    type: str  # "Map" or "Parallel"
    starts: tuple[str, ...]  # the first state of each branch
    label: str = ""  # "Distributed Map", "Inline Map", "Parallel"


@dataclass
class MachineGraph:
    """One state machine as a graph."""

    name: str
    start: str
    states: dict[str, State] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    containers: dict[str, Container] = field(default_factory=dict)

    def edge(self, key: EdgeKey) -> Edge | None:
        return next((edge for edge in self.edges if edge.key == key), None)

    def edges_between(self, source: str, target: str) -> list[Edge]:
        return [edge for edge in self.edges if edge.source == source and edge.target == target]

    def inner(self, container: str, branch: int | None = None) -> list[State]:
        """The states directly inside `container` (one branch of it, if given)."""
        return [s for s in self.states.values() if s.parent == container and branch in (None, s.branch)]

    def container_of_start(self, state: str) -> str | None:
        """The container whose branch begins with `state`, if any."""
        return next((c.name for c in self.containers.values() if state in c.starts), None)

    def in_distributed_map(self, name: str) -> bool:
        """Whether `name` runs inside a Distributed Map: its iterations are child executions
        with histories of their own, which a stock LocalStack 4.14.0 cannot list."""
        parent = self.states[name].parent if name in self.states else None
        while parent is not None:
            if self.containers[parent].label == "Distributed Map":
                return True
            parent = self.states[parent].parent
        return False

    @property
    def child_machines(self) -> list[str]:
        return sorted({s.child_machine for s in self.states.values() if s.child_machine})


def machine_graph(name: str, definition: Mapping[str, Any], machines: Mapping[str, str] | None = None) -> MachineGraph:
    """The graph of `definition`; `machines` maps state machine ARNs to names (for nested executions)."""
    graph = MachineGraph(name=name, start=definition["StartAt"])
    graph.edges.append(Edge(START, definition["StartAt"], "start"))
    _add_states(graph, definition["States"], None, 0, machines or {})
    for state in graph.states.values():
        if state.parent is None and state.terminal:
            graph.edges.append(Edge(state.name, END, "end"))
    return graph


def _add_states(
    graph: MachineGraph, states: Mapping[str, Any], parent: str | None, branch: int, machines: Mapping[str, str]
) -> None:
    for name, body in states.items():
        kind = body["Type"]
        action, child = _action(body, machines)
        retries = tuple(error for rule in body.get("Retry", []) for error in rule.get("ErrorEquals", []))
        terminal = bool(body.get("End")) or kind == "Succeed"
        graph.states[name] = State(name, kind, parent, branch, action, child, retries, terminal)
        if "Next" in body:
            graph.edges.append(Edge(name, body["Next"], "next"))
        _add_choices(graph, name, body)
        for catcher in body.get("Catch", []):
            graph.edges.append(Edge(name, catcher["Next"], "catch", ", ".join(catcher.get("ErrorEquals", []))))
        if kind == "Map":
            processor = body.get("ItemProcessor") or body.get("Iterator") or {}
            mode = processor.get("ProcessorConfig", {}).get("Mode", "INLINE").title()
            graph.containers[name] = Container(name, kind, (processor["StartAt"],), f"{mode} Map")
            graph.edges.append(Edge(name, processor["StartAt"], "start", "each item"))
            _add_states(graph, processor["States"], name, 0, machines)
        elif kind == "Parallel":
            starts = tuple(b["StartAt"] for b in body["Branches"])
            graph.containers[name] = Container(name, kind, starts, "Parallel")
            for index, branch_body in enumerate(body["Branches"]):
                graph.edges.append(Edge(name, branch_body["StartAt"], "start", f"branch {index + 1}"))
                _add_states(graph, branch_body["States"], name, index, machines)


def _add_choices(graph: MachineGraph, name: str, body: Mapping[str, Any]) -> None:
    """Choice rules with the same target become one edge, their texts joined by `or`."""
    rules: dict[str, list[dict[str, Any]]] = {}
    for rule in body.get("Choices", []):
        rules.setdefault(rule["Next"], []).append(rule)
    for target, same in rules.items():
        text = describe(same[0]) if len(same) == 1 else " or ".join(grouped(rule) for rule in same)
        graph.edges.append(Edge(name, target, "choice", text))
    if "Default" in body:
        graph.edges.append(Edge(name, body["Default"], "default", "default"))


def _action(body: Mapping[str, Any], machines: Mapping[str, str]) -> tuple[str, str | None]:
    """What a Task calls, in short, and the child machine of a startExecution task."""
    resource = str(body.get("Resource", ""))
    if not resource:
        return "", None
    if resource.startswith("arn:aws:states:::"):
        action = resource.removeprefix("arn:aws:states:::").removeprefix("aws-sdk:")
        action = action.rsplit(":", 1)[0] if action.rsplit(":", 1)[-1].isdigit() else action
    elif ":function:" in resource:
        action = "lambda " + resource.split(":function:", 1)[1]
    else:
        action = resource
    child = None
    if action.startswith("states:startExecution"):
        arguments = body.get("Parameters") or body.get("Arguments") or {}
        arn = arguments.get("StateMachineArn") or arguments.get("StateMachineArn.$")
        child = machines.get(str(arn), str(arn).rsplit(":", 1)[-1]) if arn else None
    return action, child
