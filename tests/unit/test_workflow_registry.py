"""The workflow registry: every workflow is declared whole, and everything derives from it."""

from __future__ import annotations

import inspect
import pkgutil

import pytest
from serverless_testbed import generators as fixtures
from serverless_testbed.records import Generated
from serverless_testbed.registry import UnknownWorkflow, stack_for, workflow, workflows
from serverless_testbed.runs import runners
from serverless_testbed.stack.model import StateMachine
from serverless_testbed.workflow import Workflow

import infra.workflows


def test_every_module_of_the_package_declares_a_workflow() -> None:
    modules = {f"infra.workflows.{info.name}" for info in pkgutil.iter_modules(infra.workflows.__path__)}
    declaring = {item.resources.__module__ for item in workflows().values()}
    assert modules - {"serverless_testbed.workflow"} == declaring, "a module of infra/workflows declares no WORKFLOW"


@pytest.mark.parametrize("name", sorted(workflows()))
def test_a_workflow_is_complete(name: str) -> None:
    declared = workflows()[name]
    assert declared.name == name
    assert declared.summary
    assert declared.trigger
    stack = stack_for([name])
    assert stack.of_kind(StateMachine), f"{name} has no state machine"
    generated = declared.load_generator()(6, 0.5, 3, run_id="reg")
    assert generated
    assert all(isinstance(item, Generated) for item in generated)
    assert {item.expected.valid for item in generated} == {True, False}, "a generator makes good and bad records"
    runner = declared.load_runner()
    assert list(inspect.signature(runner).parameters)[:3] == ["deployer", "stack", "options"]
    renderer = declared.load_renderer()
    if renderer is not None:
        for fmt in declared.formats:
            assert renderer(generated, fmt).strip(), f"{name} renders nothing as {fmt}"


def test_data_kinds_and_runners_are_the_workflows() -> None:
    assert set(fixtures.kinds()) == set(workflows()) == set(runners())
    assert set(fixtures.renderers()) == {name for name, item in workflows().items() if item.renderer}


def test_an_unknown_workflow_names_the_known_ones() -> None:
    with pytest.raises(UnknownWorkflow, match=r"choose from .*orders"):
        workflow("no-such-workflow")
    with pytest.raises(UnknownWorkflow):
        stack_for(["orders", "nope"])


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "Bad_Name"), ("runner", "no-colon"), ("generator", "mod:"), ("formats", ())],
)
def test_a_malformed_declaration_is_refused(field: str, value: object) -> None:
    good = {
        "name": "invoices",
        "summary": "s",
        "resources": list,
        "generator": "fixtures.orders:generate_orders",
        "runner": "infra.runs.orders:run",
        "trigger": "t",
    }
    with pytest.raises(ValueError, match=field if field != "formats" else "format"):
        Workflow(**{**good, field: value})  # type: ignore[arg-type]
