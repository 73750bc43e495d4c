"""The seven state machines as graphs: every state, every way out of it, labelled."""

from __future__ import annotations

import json

import pytest
from serverless_testbed.registry import stack_for
from serverless_testbed.report.asl_graph import END, START, machine_graph
from serverless_testbed.report.choice_rules import describe, wrap
from serverless_testbed.report.machines import DRAWING_CONTEXT, graphs, machine_of
from serverless_testbed.stack.model import StateMachine

STACK = stack_for()
GRAPHS = graphs(STACK)


def all_states(states: dict) -> dict:
    """Every state of an ASL `States` block, those inside Map and Parallel included."""
    found = dict(states)
    for body in states.values():
        processor = body.get("ItemProcessor") or body.get("Iterator")
        if processor:
            found |= all_states(processor["States"])
        for branch in body.get("Branches", []):
            found |= all_states(branch["States"])
    return found


def test_every_machine_of_the_stack_is_drawn() -> None:
    assert sorted(GRAPHS) == sorted(m.name for m in STACK.of_kind(StateMachine))
    assert len(GRAPHS) >= 7  # the five workflows' machines; one more per workflow added (testbed new workflow)


@pytest.mark.parametrize("machine", [m.name for m in STACK.of_kind(StateMachine)])
def test_each_state_and_each_transition_of_the_definition_is_in_the_graph(machine: str) -> None:
    definition = STACK.get(machine).definition(STACK, DRAWING_CONTEXT)  # type: ignore[attr-defined]
    states = all_states(definition["States"])
    graph = GRAPHS[machine]
    assert set(graph.states) == set(states)
    keys = {(e.source, e.target, e.kind) for e in graph.edges}
    assert (START, definition["StartAt"], "start") in keys
    for name, body in states.items():
        assert graph.states[name].type == body["Type"]
        if "Next" in body:
            assert (name, body["Next"], "next") in keys
        for rule in body.get("Choices", []):
            assert (name, rule["Next"], "choice") in keys
        if "Default" in body:
            assert (name, body["Default"], "default") in keys
        for catcher in body.get("Catch", []):
            assert (name, catcher["Next"], "catch") in keys


def test_choice_rules_and_default_are_labelled() -> None:
    graph = GRAPHS["customer-orders"]
    labels = {(e.target, e.kind): e.label for e in graph.edges if e.source == "IsTransactionApproved"}
    assert labels == {
        ("NotifyCustomer", "choice"): "$.transaction.approved == true",
        ("DeleteOrder", "default"): "default",
    }


def test_two_rules_to_one_state_are_one_edge_saying_both() -> None:
    edges = GRAPHS["etl-or-streaming"].edges_between("ChooseBranch", "RunStreaming")
    assert len(edges) == 1
    assert edges[0].label == '($.branch is present and $.branch == "streaming") or $.routing.draw <= 50'


def test_catch_edges_name_the_errors_they_catch() -> None:
    edges = GRAPHS["sales-ingest"].edges_between("ParseFile", "DeadLetterTheFile")
    assert [(e.kind, e.label) for e in edges] == [("catch", "States.ALL")]


def test_maps_are_containers_holding_their_states() -> None:
    graph = GRAPHS["sales-ingest"]
    assert graph.containers["ValidateAndStore"].label == "Distributed Map"
    assert graph.containers["DeadLetterInvalidOrders"].label == "Inline Map"
    assert graph.states["SendToDeadLetterQueue"].parent == "DeadLetterInvalidOrders"
    assert graph.states["DeadLetterInvalidOrders"].parent == "ValidateAndStore"
    assert graph.in_distributed_map("SendToDeadLetterQueue")
    assert not graph.in_distributed_map("Summarise")
    assert ("ValidateAndStore", "ValidateBatch", "start") in {e.key for e in graph.edges}


def test_nested_executions_name_the_child_machine() -> None:
    graph = GRAPHS["etl-or-streaming"]
    assert graph.states["RunStreaming"].child_machine == "streaming-branch"
    assert graph.states["RunEtl"].child_machine == "etl-branch"
    assert graph.child_machines == ["etl-branch", "streaming-branch"]


def test_only_top_level_terminal_states_lead_to_the_end() -> None:
    ends = {e.source for e in GRAPHS["sales-ingest"].edges if e.target == END}
    assert ends == {"Ingested"}  # Sent and BatchDone end iterations, not the execution


def test_parallel_branches_are_containers_with_one_start_each() -> None:
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 1, "End": True}}},
                ],
                "End": True,
            }
        },
    }
    graph = machine_graph("p", definition)
    assert graph.containers["Both"].starts == ("A", "B")
    assert (graph.states["A"].branch, graph.states["B"].branch) == (0, 1)
    assert [e.label for e in graph.edges if e.kind == "start" and e.source == "Both"] == ["branch 1", "branch 2"]


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ({"Variable": "$.n", "NumericLessThanEquals": 50}, "$.n <= 50"),
        ({"Variable": "$.n", "NumericGreaterThan": 5}, "$.n > 5"),
        ({"Variable": "$.s", "StringEqualsPath": "$.t"}, "$.s == $.t"),
        ({"Variable": "$.x", "IsPresent": False}, "$.x is not present"),
        ({"Not": {"Variable": "$.b", "BooleanEquals": True}}, "not $.b == true"),
        (
            {"Or": [{"Variable": "$.a", "IsNull": True}, {"Variable": "$.a", "StringMatches": "x*"}]},
            '$.a is null or $.a matches "x*"',
        ),
        ({"Condition": "{% $states.input.n > 3 %}"}, "$states.input.n > 3"),
    ],
)
def test_choice_rules_in_words(rule: dict, text: str) -> None:
    assert describe(rule) == text


def test_long_labels_wrap_at_spaces_and_stop_at_six_lines() -> None:
    wrapped = wrap("one two three four five six seven eight nine ten eleven twelve thirteen fourteen", width=10)
    assert wrapped.split("\n")[:2] == ["one two", "three four"]
    assert len(wrapped.split("\n")) == 6
    assert wrapped.endswith("…")


def test_a_long_json_path_wraps_at_its_dots_and_keeps_every_part() -> None:
    wrapped = wrap("$.put.SdkHttpMetadata.HttpStatusCode == 200", width=22)
    assert wrapped.split("\n") == ["$.put.SdkHttpMetadata", ".HttpStatusCode == 200"]


def test_an_execution_is_matched_to_its_machine_by_its_arn() -> None:
    ctx = DRAWING_CONTEXT
    arn = f"arn:aws:states:{ctx.region}:{ctx.account}:execution:tb-customer-orders:run-1"
    assert machine_of(arn, STACK, ctx) == "customer-orders"
    assert machine_of(arn.replace("tb-", "other-"), STACK, ctx) is None
    assert json.dumps(machine_of("not-an-arn", STACK, ctx)) == "null"
