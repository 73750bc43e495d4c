"""Overlays from execution histories recorded on the embedded engine (histories/): the path,
the Choice branch taken, retries, the error a Catch caught, the failing state and cause."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from serverless_testbed.registry import stack_for
from serverless_testbed.report.asl_graph import END, START, machine_graph
from serverless_testbed.report.machines import graphs
from serverless_testbed.report.overlay import Overlay, overlay, trace

HISTORIES = Path(__file__).parent / "histories"
GRAPHS = graphs(stack_for())


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HISTORIES / f"{name}.json").read_text())
    return data


def test_a_declined_order_takes_the_default_branch_and_fails_in_transaction_declined() -> None:
    data = recorded("orders_declined")
    found = trace(GRAPHS["customer-orders"], data["history"])
    assert list(found.entries) == data["path"]
    assert found.edges[("IsTransactionApproved", "DeleteOrder", "default")] == 1
    assert found.edges[("IsTransactionApproved", "NotifyCustomer", "choice")] == 0
    assert found.status == "FAILED"
    assert found.failed_state == "TransactionDeclined"
    assert found.error == data["error"]
    assert found.cause
    assert not found.edges[("TransactionDeclined", END, "end")]


def test_a_confirmed_order_runs_from_start_to_end() -> None:
    data = recorded("orders_confirmed")
    found = trace(GRAPHS["customer-orders"], data["history"])
    assert found.edges[(START, "PutOrder", "start")] == 1
    assert found.edges[("IsTransactionApproved", "NotifyCustomer", "choice")] == 1
    assert found.edges[("OrderConfirmed", END, "end")] == 1
    assert found.status == "SUCCEEDED"
    assert found.failed_state is None
    assert sum(found.edges.values()) == len(data["path"]) + 1  # one edge into each state, one to the end


def test_retries_are_counted_and_the_caught_error_sits_on_the_catch_edge() -> None:
    data = recorded("parallel_map_retry_catch")
    graph = machine_graph("retry-catch", data["definition"])
    found = trace(graph, data["history"])
    assert found.retries["L"] == 1  # two attempts failed: the first retried, the second caught
    assert found.edges[("L", "Caught", "catch")] == 1
    assert list(found.caught[("L", "Caught", "catch")]) == ["SQS.SQSException"]
    assert found.edges[("L", END, "end")] == 0  # it left by the Catch, not by End
    assert found.edges[("Caught", END, "end")] == 1


def test_map_iterations_and_parallel_branches_are_counted_inside_their_container() -> None:
    data = recorded("parallel_map_retry_catch")
    graph = machine_graph("retry-catch", data["definition"])
    found = trace(graph, data["history"])
    assert found.edges[("P", "B1", "start")] == 1
    assert found.edges[("P", "M", "start")] == 1
    assert found.edges[("M", "C", "start")] == 3  # three items
    assert found.edges[("C", "One", "choice")] == 1
    assert found.edges[("C", "Other", "default")] == 2


def test_the_aggregate_counts_executions_per_state_and_transitions_per_edge() -> None:
    graph = GRAPHS["customer-orders"]
    histories = [recorded("orders_declined")["history"], recorded("orders_confirmed")["history"]] * 2
    total = overlay(graph, histories)
    assert total.executions == 4
    assert total.states["PutOrder"] == 4
    assert total.states["DeleteOrder"] == 2
    assert total.edges[("PutOrder", "WasOrderStored", "next")] == 4
    assert total.failed == {"TransactionDeclined": {recorded("orders_declined")["error"]: 2}}
    assert len(total.causes) == 2
    assert total.max_edge == 4


def test_a_file_rejected_by_validation_fails_in_file_invalid_after_notifying() -> None:
    data = recorded("csv_etl_invalid_file")
    found = trace(GRAPHS["csv-etl"], data["history"])
    assert found.edges[("IsFileValid", "MoveToError", "default")] == 1
    assert found.entries["NotifyInvalid"] == 1
    assert found.failed_state == "FileInvalid"
    assert Overlay().add(found).failed["FileInvalid"][data["error"]] == 1
