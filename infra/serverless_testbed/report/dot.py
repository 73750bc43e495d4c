"""A machine graph, with or without an overlay, as Graphviz DOT text.

Graphviz's `dot` lays it out (`serverless_testbed.report.svg`). States are boxes coloured by type;
Map and Parallel states are clusters holding their inner states; Catch edges are dashed
and orange, apart from the solid Next and Choice edges. With an overlay, states show how
often they were entered, edges how often they were taken (as a number and as line
width), and what was not entered is grey, or, for coverage, marked red as not covered.
Every node and edge gets an SVG id and classes (`state`, the type, `entered`,
`uncovered`, `failed`...), which the report's page and its browser test read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from serverless_testbed.report.asl_graph import END, START, Edge, MachineGraph, State
from serverless_testbed.report.choice_rules import shorten, wrap
from serverless_testbed.report.overlay import Overlay

Mode = Literal["plain", "path", "aggregate", "coverage"]

# (fill, border) by state type
COLOURS = {
    "Task": ("#e6f0fb", "#3d6fb0"),
    "Choice": ("#fff4d1", "#b8901a"),
    "Pass": ("#f1f1f1", "#7a7a7a"),
    "Wait": ("#eaf6f6", "#3f8f8f"),
    "Map": ("#f0e8fb", "#7150a8"),
    "Parallel": ("#f0e8fb", "#7150a8"),
    "Succeed": ("#e2f3df", "#3a8a3f"),
    "Fail": ("#fbe2e0", "#b8382b"),
}
EDGE_COLOURS = {"catch": "#d0661a", "default": "#6b6b6b"}
GREY, RED, GREEN, AMBER = "#c4c4c4", "#d62c1f", "#2e8b3a", "#b7791f"
PAD = "\u00a0\u00a0"  # before each line of an edge label
FONT = "Helvetica"  # Graphviz measures text with its Helvetica metrics; the SVG says Helvetica,sans-Serif


@dataclass(frozen=True)
class Picture:
    """What to draw: a graph, an overlay on it and how to read the overlay."""

    graph: MachineGraph
    overlay: Overlay | None = None
    mode: Mode = "plain"
    id_prefix: str = ""  # keeps SVG ids unique when a page holds several pictures of one machine
    expected_failures: bool = False  # every failure drawn was expected (a run whose records all ended as expected)


def dot_source(picture: Picture) -> str:
    """The DOT text of `picture`."""
    graph = picture.graph
    lines = [
        f"digraph {_quote(graph.name)} {{",
        f'  graph [rankdir=TB compound=true nodesep=0.55 ranksep=0.5 pad=0.3 fontname="{FONT}" fontsize=10 '
        f'id={_quote(_id(picture, "machine"))} class="machine" tooltip={_quote(graph.name)} bgcolor="white"];',
        f'  node [shape=box style="rounded,filled" fontname="{FONT}" fontsize=10 margin="0.18,0.06" penwidth=1.2];',
        f'  edge [fontname="{FONT}" fontsize=9 arrowsize=0.7 color="#404040" fontcolor="#303030" labelfloat=false];',
        f'  {_quote(START)} [shape=circle label="" width=0.22 style=filled fillcolor="#303030" '
        f'id={_quote(_id(picture, "start"))} class="terminal start" tooltip="start"];',
        f'  {_quote(END)} [shape=doublecircle label="" width=0.16 style=filled fillcolor="#303030" '
        f'id={_quote(_id(picture, "end"))} class="terminal end" tooltip="end"];',
    ]
    lines += _states(picture, None, 0, "  ")
    lines += [f"  {line}" for line in (_edge(picture, index, edge) for index, edge in enumerate(graph.edges))]
    lines.append("}")
    return "\n".join(lines)


def _states(picture: Picture, parent: str | None, branch: int | None, indent: str) -> list[str]:
    graph, lines = picture.graph, []
    for state in graph.states.values():
        if state.parent != parent or (branch is not None and parent is not None and state.branch != branch):
            continue
        if state.name in graph.containers:
            lines += _container(picture, state, indent)
        else:
            lines.append(indent + _node(picture, state))
    return lines


def _container(picture: Picture, state: State, indent: str) -> list[str]:
    container = picture.graph.containers[state.name]
    border = COLOURS[state.type][1]
    lines = [
        f"{indent}subgraph {_quote('cluster_' + state.name)} {{",
        f'{indent}  graph [label="" style="rounded,dashed" margin=14 '
        f'color="{border}" bgcolor="#fbf9fe" id={_quote(_id(picture, "container-" + state.name))} class="container"];',
        indent + "  " + _node(picture, state),
    ]
    for index in range(len(container.starts)):
        if container.type == "Parallel":
            lines.append(f"{indent}  subgraph {_quote(f'cluster_{state.name}_{index}')} {{")
            lines.append(f'{indent}    graph [label="branch {index + 1}" style="rounded,dotted" color="{border}"];')
            lines += _states(picture, state.name, index, indent + "    ")
            lines.append(f"{indent}  }}")
        else:
            lines += _states(picture, state.name, index, indent + "  ")
    lines.append(f"{indent}}}")
    return lines


def _node(picture: Picture, state: State) -> str:
    overlay, mode = picture.overlay, picture.mode
    fill, border = COLOURS.get(state.type, COLOURS["Pass"])
    kind = f"{state.type} · {state.action}" if state.action else state.type
    container = picture.graph.containers.get(state.name)
    if container is not None:  # the map's mode in its own node: a cluster label would sit where edges enter
        kind = container.label
    rows = [state.name, shorten(kind, 34)]
    classes = ["state", state.type]
    attributes = {"penwidth": "1.2"}
    if state.child_machine:
        rows.append(f"runs ▸ {state.child_machine}")
        attributes["URL"] = _quote(f"#machine-{_slug(state.child_machine)}")
        classes.append("nested")
    if overlay is not None:
        entered = overlay.states[state.name]
        if entered:
            classes.append("entered")
            rows.append(_count_text(overlay, state.name, mode, picture.graph.in_distributed_map(state.name)))
            fill = "#d5efd8" if mode == "path" else fill
        else:
            untraced = bool(overlay.untraced_map_runs) and picture.graph.in_distributed_map(state.name)
            red = mode == "coverage" and not untraced
            classes.append("untraced" if untraced else "uncovered" if red else "not-entered")
            fill, border = ("#ffffff", RED) if red else ("#fafafa", GREY)
            attributes["fontcolor"] = _quote("#8a8a8a")
            attributes["style"] = '"rounded,filled,dashed"'
            if red:
                rows.append("✖ not covered")
            elif untraced:
                rows.append("map run: not traced")
        if overlay.retries[state.name]:
            rows.append(f"↻ retried {overlay.retries[state.name]}x")
            classes.append("retried")
        if state.name in overlay.failed:
            errors = ", ".join(
                f"{error}" + (f" x{n}" if n > 1 else "") for error, n in overlay.failed[state.name].items()
            )
            classes.append("failed")
            if picture.expected_failures:  # an expected outcome (a declined order): amber, not alarm red
                rows.append(f"● expected {shorten(errors, 30)}")
                fill, border = "#fdf0d5", AMBER
                attributes["penwidth"] = "2.0"
                classes.append("expected")
            else:
                rows.append(f"✖ {shorten(errors, 36)}")
                fill, border = "#fbd3cf", RED
                attributes["penwidth"] = "2.6"
    attributes |= {"fillcolor": _quote(fill), "color": _quote(border)}
    tooltip = f"{state.name} ({kind})" + (f"; retries {', '.join(state.retries)}" if state.retries else "")
    attrs = " ".join(f"{key}={value}" for key, value in attributes.items())
    return (
        f"{_quote(state.name)} [label={_quote(chr(10).join(rows))} id={_quote(_id(picture, 'state-' + state.name))} "
        f"class={_quote(' '.join(classes))} tooltip={_quote(tooltip)} {attrs}];"
    )


def _count_text(overlay: Overlay, name: str, mode: Mode, in_distributed_map: bool = False) -> str:
    entries = overlay.entries[name]
    if mode == "path":
        return "entered" + (f" {entries}x" if entries > 1 else "")
    entered = overlay.states[name]
    if in_distributed_map and overlay.iterations:  # entered by child executions, not by the executions
        return f"{entered} of {overlay.iterations} children" + (f" ({entries} entries)" if entries > entered else "")
    return f"{entered} of {overlay.executions}" + (f" ({entries} entries)" if entries > entered else "")


def _edge(picture: Picture, index: int, edge: Edge) -> str:
    graph, overlay, mode = picture.graph, picture.overlay, picture.mode
    tail, head = _exit_node(graph, edge.source) if edge.kind != "start" else edge.source, edge.target
    attributes: dict[str, str] = {}
    if edge.source in graph.containers and edge.kind != "start" and tail != edge.source:
        attributes["ltail"] = _quote("cluster_" + edge.source)
    colour = EDGE_COLOURS.get(edge.kind, "#404040")
    label = "" if edge.kind in ("next", "end") or (edge.kind == "start" and edge.source == START) else edge.label
    if edge.kind == "catch":
        label = f"catch {edge.label}"
        attributes["style"] = "dashed"
    classes = ["transition", edge.kind]
    width = 1.2
    if overlay is not None:
        taken = overlay.edges[edge.key]
        if taken:
            classes.append("taken")
            width = 1.4 + 2.4 * taken / max(overlay.max_edge, 1) if mode != "path" else 2.4
            colour = EDGE_COLOURS["catch"] if edge.kind == "catch" else GREEN if mode == "path" else "#2b2b2b"
            caught = overlay.caught.get(edge.key)
            if caught:
                label = "caught " + ", ".join(caught)
            if mode != "path":
                label = f"{label}\n{taken}x" if label else f"{taken}x"
        else:
            untraced = bool(overlay.untraced_map_runs) and graph.in_distributed_map(edge.target)
            red = mode == "coverage" and not untraced
            classes.append("untraced" if untraced else "uncovered" if red else "not-taken")
            colour = RED if red else GREY
            attributes["style"] = "dotted" if red else attributes.get("style", "solid")
    full = label
    attributes |= {
        "color": _quote(colour),
        "penwidth": f"{width:.1f}",
        "id": _quote(_id(picture, f"edge-{index}")),
        "class": _quote(" ".join(classes)),
    }
    if label:
        # Each line padded with no-break spaces: dot puts a label right beside its edge, and a
        # wide edge would run over the label's first characters (a count like "45x").
        lines = "\n".join(wrap(line) for line in label.split("\n")).split("\n")
        attributes["label"] = _quote("\n".join(f"{PAD}{line}" for line in lines))
        attributes["labeltooltip"] = _quote(full)
        attributes["fontcolor"] = _quote(colour if colour not in (GREY,) else "#8a8a8a")
    if edge.kind == "catch":
        attributes["constraint"] = "true"
    attrs = " ".join(f"{key}={value}" for key, value in attributes.items())
    return f"{_quote(tail)} -> {_quote(head)} [{attrs}];"


def _exit_node(graph: MachineGraph, name: str) -> str:
    """The state an edge out of `name` starts from: for a container, its last terminal inner state."""
    if name not in graph.containers:
        return name
    inner = [state for state in graph.inner(name) if state.terminal]
    return _exit_node(graph, inner[-1].name) if inner else name


def _id(picture: Picture, what: str) -> str:
    return f"{picture.id_prefix}{_slug(picture.graph.name)}--{_slug(what)}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
