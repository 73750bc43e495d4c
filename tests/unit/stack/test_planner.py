"""The planner against a fake of the remote state: no network, no engine."""

from __future__ import annotations

from typing import Any

import pytest
from serverless_testbed.registry import stack_for, workflows
from serverless_testbed.stack.model import Context, Function, Resource, host_architecture
from serverless_testbed.stack.planner import Change, destroy_plan, plan
from serverless_testbed.stack.resource import State
from serverless_testbed.stack.stack import Stack

CTX = Context(prefix="tb", account="123456789012", region="eu-west-1")


class FakeRemote:
    """A target holding `existing` (logical name -> state) and nothing else."""

    def __init__(self, existing: dict[str, State] | None = None) -> None:
        self.existing = existing or {}

    def describe(self, resource: Resource, stack: Stack, ctx: Context) -> State | None:
        return self.existing.get(resource.name)

    @classmethod
    def holding(cls, stack: Stack, **overrides: State) -> FakeRemote:
        """A target that already has the whole stack as planned (some states overridden)."""
        existing = {r.name: r.desired(stack, CTX) | {"_id": "api0", "_url": "https://q"} for r in stack.resources}
        existing.update(overrides)
        return cls(existing)


def operations(changes: list[Change]) -> list[str]:
    return [f"{call.service}.{call.operation}" for change in changes for call in change.calls]


@pytest.mark.parametrize("workflow", sorted(workflows()))
def test_a_fresh_account_gets_every_resource_created_in_a_valid_order(workflow: str) -> None:
    stack = stack_for([workflow])
    changes = plan(stack, FakeRemote(), CTX)

    assert {c.action for c in changes} == {"create"}
    created = [c.name for c in changes]
    assert sorted(created) == sorted(r.physical(CTX) for r in stack.resources if _deployable(r))
    position = {name: index for index, name in enumerate(created)}
    for resource in stack.resources:
        for needed in resource.depends_on(stack):
            assert position[stack.bind(CTX).name(needed)] < position[resource.physical(CTX)], (
                f"{resource.name} is created before {needed}, which must exist first"
            )


def test_an_account_that_has_everything_plans_nothing() -> None:
    stack = stack_for()
    assert plan(stack, FakeRemote.holding(stack), CTX) == []


def test_a_changed_function_is_updated_not_recreated() -> None:
    stack = stack_for(["orders"])
    current = stack.get("check-transaction").desired(stack, CTX) | {"CodeSha256": "old", "Timeout": 3}
    changes = plan(stack, FakeRemote.holding(stack, **{"check-transaction": current}), CTX)

    assert [(c.action, c.name) for c in changes] == [("update", "tb-check-transaction")]
    assert operations(changes) == ["lambda.update_function_code", "lambda.update_function_configuration"]
    assert any(reason.startswith("Timeout: 3 -> 10") for reason in changes[0].reasons), changes[0].reasons


def test_a_changed_definition_updates_the_state_machine() -> None:
    stack = stack_for(["orders"])
    current = stack.get("customer-orders").desired(stack, CTX) | {"definition": "{}"}
    changes = plan(stack, FakeRemote.holding(stack, **{"customer-orders": current}), CTX)
    assert operations(changes) == ["stepfunctions.update_state_machine"]


def test_a_changed_table_key_is_refused_with_what_to_do() -> None:
    stack = stack_for(["orders"])
    current: dict[str, Any] = stack.get("orders-table").desired(stack, CTX) | {"KeySchema": []}
    with pytest.raises(ValueError, match="testbed destroy"):
        plan(stack, FakeRemote.holding(stack, **{"orders-table": current}), CTX)


def test_names_carry_the_prefix_and_arns_the_account_and_region() -> None:
    stack = stack_for(["orders"])
    changes = plan(stack, FakeRemote(), CTX)
    assert all(change.name.startswith("tb-") for change in changes)
    machine = next(c for c in changes if c.kind == "state-machine")
    definition = machine.calls[0].params["definition"]
    assert "arn:aws:lambda:eu-west-1:123456789012:function:tb-check-transaction" in definition
    assert "000000000000" not in definition
    assert "us-east-1" not in definition


def test_destroy_deletes_only_what_exists_in_reverse_order() -> None:
    stack = stack_for(["sales"])
    remote = FakeRemote.holding(stack)
    del remote.existing["sales-dead-letters"]
    changes = destroy_plan(stack, remote, CTX)

    assert {c.action for c in changes} == {"delete"}
    assert "tb-sales-dead-letters" not in [c.name for c in changes]
    ops = operations(changes)
    assert ops.index("s3.empty_bucket") < ops.index("s3.delete_bucket")
    deleted = [c.name for c in changes]
    for resource in stack.resources:
        if resource.role_service and resource.physical(CTX) in deleted:  # what assumes a role goes before it
            role = stack.get(resource.role_name).physical(CTX)
            assert deleted.index(resource.physical(CTX)) < deleted.index(role), f"{role} is deleted first"


def _deployable(resource: Resource) -> bool:
    return not resource.made_at_run_time


def test_a_substitution_the_asl_never_uses_is_an_error() -> None:
    from dataclasses import replace

    from serverless_testbed.stack.model import Ref, StateMachine
    from serverless_testbed.stack.stack import StackError

    stack = stack_for(["orders"])
    machine = stack.get("customer-orders")
    assert isinstance(machine, StateMachine)
    stale = replace(machine, substitutions={**machine.substitutions, "Forgotten": Ref("orders-table", "name")})
    with pytest.raises(StackError, match="Forgotten"):
        stale.definition(stack, CTX)


def test_functions_run_on_the_targets_architecture_unless_they_declare_one() -> None:
    local = Context(prefix="tb", account="123456789012", region="eu-west-1", architecture="arm64")
    stack = stack_for(["orders"])
    function = stack.get("check-transaction")
    assert function.desired(stack, CTX)["Architectures"] == ["x86_64"]  # AWS: explicit default
    assert function.desired(stack, local)["Architectures"] == ["arm64"]
    pinned = Function("pinned", source="check_transaction", architecture="x86_64")
    assert pinned.architectures(local) == ["x86_64"]


def test_a_new_architecture_updates_the_code_package() -> None:
    local = Context(prefix="tb", account="123456789012", region="eu-west-1", architecture="arm64")
    stack = stack_for(["orders"])
    function = stack.get("check-transaction")
    current = function.desired(stack, CTX)  # deployed on x86_64 with the same code
    changes = plan(stack, FakeRemote(existing={function.name: current}), local)
    [change] = [c for c in changes if c.name == function.physical(local)]
    [call] = [c for c in change.calls if c.operation == "update_function_code"]
    assert call.params["Architectures"] == ["arm64"]


@pytest.mark.parametrize(("machine", "expected"), [("x86_64", "x86_64"), ("aarch64", "arm64"), ("arm64", "arm64")])
def test_the_host_architecture_names_lambdas(machine: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.machine", lambda: machine)
    assert host_architecture() == expected
