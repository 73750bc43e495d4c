"""The pictures themselves: every machine lays out (Graphviz in WebAssembly), one SVG node per
state, ids unique, overlays visible as classes, and the report page holds them all."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest
from serverless_testbed.executions import Execution, state_path
from serverless_testbed.registry import stack_for
from serverless_testbed.report.dot import Picture
from serverless_testbed.report.html import render_page
from serverless_testbed.report.machines import DRAWING_CONTEXT, graphs
from serverless_testbed.report.overlay import Overlay, trace
from serverless_testbed.report.svg import render_svg
from serverless_testbed.runs import RunResult

GRAPHS = graphs(stack_for())
HISTORIES = Path(__file__).parent / "histories"
SVG = "{http://www.w3.org/2000/svg}"


def groups(svg: str, cls: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [g for g in root.iter(f"{SVG}g") if cls in (g.get("class") or "").split()]


@pytest.mark.parametrize("machine", sorted(GRAPHS))
def test_each_machine_is_drawn_with_a_node_per_state_and_an_edge_per_transition(machine: str) -> None:
    graph = GRAPHS[machine]
    svg = render_svg(Picture(graph))
    states = groups(svg, "state")
    assert sorted(g.get("id", "").rsplit("--state-", 1)[1] for g in states) == sorted(graph.states)
    assert len(groups(svg, "transition")) == len(graph.edges)
    assert len(groups(svg, "container")) == len(graph.containers)
    ids = [g.get("id") for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("id")]
    assert len(ids) == len(set(ids))


def test_nested_executions_link_to_the_child_machine_picture() -> None:
    svg = render_svg(Picture(GRAPHS["etl-or-streaming"]))
    assert 'href="#machine-streaming-branch"' in svg
    assert 'href="#machine-etl-branch"' in svg


def test_a_path_picture_marks_the_failing_state_and_greys_what_was_not_entered() -> None:
    data = json.loads((HISTORIES / "orders_declined.json").read_text())
    graph = GRAPHS["customer-orders"]
    svg = render_svg(Picture(graph, Overlay().add(trace(graph, data["history"])), "path"))
    classes = {g.get("id", "").rsplit("--state-", 1)[1]: (g.get("class") or "").split() for g in groups(svg, "state")}
    assert "failed" in classes["TransactionDeclined"]
    assert "entered" in classes["DeleteOrder"]
    assert "not-entered" in classes["NotifyCustomer"]
    assert data["error"] in svg


def test_coverage_marks_states_not_entered_as_uncovered() -> None:
    data = json.loads((HISTORIES / "orders_confirmed.json").read_text())
    graph = GRAPHS["customer-orders"]
    svg = render_svg(Picture(graph, Overlay().add(trace(graph, data["history"])), "coverage"))
    uncovered = {
        g.get("id", "").rsplit("--state-", 1)[1] for g in groups(svg, "uncovered") if "state" in g.get("class", "")
    }
    assert uncovered == set(graph.states) - set(data["path"])
    assert "not covered" in svg


def test_the_report_page_is_self_contained_and_holds_a_picture_per_machine() -> None:
    data = json.loads((HISTORIES / "orders_declined.json").read_text())
    for event in data["history"]:  # boto3 gives datetimes; the recording holds ISO text
        event["timestamp"] = datetime.fromisoformat(event["timestamp"])
    arn = f"arn:aws:states:{DRAWING_CONTEXT.region}:{DRAWING_CONTEXT.account}:execution:tb-customer-orders:x1"
    execution = Execution(
        arn, data["status"], state_path(data["history"]), None, data["error"], "declined", 0.5, data["history"]
    )
    result = RunResult("orders", [execution], {"orders": 1, "declined": 1}, 1.0)
    page = render_page([result], DRAWING_CONTEXT, [], [])
    assert "http://" not in page.replace("http://www.w3.org", "")  # nothing fetched: only XML namespaces
    assert "https://" not in page
    assert "<script" not in page
    assert page.count('<figure class="picture"') == 2  # the aggregate and the one path's example
    assert 'id="machine-customer-orders"' in page
    assert "TransactionDeclined" in page
    assert "declined" in page


def test_an_expected_failure_is_drawn_as_expected_not_in_alarm_red() -> None:
    data = json.loads((HISTORIES / "orders_declined.json").read_text())
    graph = GRAPHS["customer-orders"]
    one = Overlay().add(trace(graph, data["history"]))
    expected = render_svg(Picture(graph, one, "path", expected_failures=True))
    alarm = render_svg(Picture(graph, one, "path"))
    classes = {
        g.get("id", "").rsplit("--state-", 1)[1]: (g.get("class") or "").split() for g in groups(expected, "state")
    }
    assert {"failed", "expected"} <= set(classes["TransactionDeclined"])
    assert "● expected TransactionDeclined" in expected
    assert "✖" not in expected
    assert "✖ TransactionDeclined" in alarm


def test_states_in_a_distributed_map_are_not_traced_only_where_the_engine_could_not_list_its_children() -> None:
    graph = GRAPHS["sales-ingest"]
    inside = {name for name in graph.states if graph.in_distributed_map(name)}
    listed = render_svg(Picture(graph, Overlay(executions=1), "coverage"))
    unlisted = render_svg(Picture(graph, Overlay(executions=1, untraced_map_runs=1), "coverage"))

    def untraced(svg: str) -> set[str]:
        return {
            g.get("id", "").rsplit("--state-", 1)[1] for g in groups(svg, "untraced") if "state" in g.get("class", "")
        }

    assert untraced(listed) == set()
    assert "not traced" not in listed
    assert untraced(unlisted) == inside
    assert "map run: not traced" in unlisted


def test_the_page_opens_with_a_summary_and_lists_rejected_records_with_their_reasons() -> None:
    rejected = [
        {"record": f"line {n}", "reason": "missing-field:customerId", "ended": "dead-letter queue"} for n in range(12)
    ]
    few = RunResult("orders", [], {"orders": 3, "approved": 2, "declined": 1}, 1.0, details={"rejected": rejected[:1]})
    many = RunResult(
        "sales", [], {"records": 40, "stored": 28, "rejected": 12}, 2.0, ["a problem"], {"rejected": rejected}
    )
    page = render_page([few, many], DRAWING_CONTEXT, [], [])
    assert page.index('class="summary"') < page.index('class="workflow"')
    assert "3 orders" in page
    assert "28 stored, 12 rejected" in page
    assert page.count("missing-field:customerId") == 13
    assert page.count('<details class="rejected">') == 1  # more than ten: collapsed
    assert "1 problem(s)" in page


def test_the_readme_picture_is_what_the_renderer_draws_now() -> None:
    committed = (Path(__file__).resolve().parents[3] / "docs" / "sales-ingest.svg").read_text()
    assert committed == render_svg(Picture(GRAPHS["sales-ingest"])), (
        "docs/sales-ingest.svg is out of date: testbed picture sales-ingest --out docs/sales-ingest.svg"
    )
