"""The state machines of a stack as graphs, and which machine an execution belongs to.

Definitions are filled for a deployment context (`Stack.definition`), so a Task that
starts another machine names it by its deployed ARN; `graphs()` maps those ARNs back to
the machines' names, and `machine_of()` maps an execution ARN to its machine's name.
"""

from __future__ import annotations

from serverless_testbed.report.asl_graph import MachineGraph, machine_graph
from serverless_testbed.stack.model import Context, StateMachine
from serverless_testbed.stack.stack import Stack

# Any context fills a definition well enough to draw it when nothing is deployed.
DRAWING_CONTEXT = Context(prefix="tb", account="000000000000", region="us-east-1")


def graphs(stack: Stack, ctx: Context = DRAWING_CONTEXT) -> dict[str, MachineGraph]:
    """Every state machine of `stack` as a graph, by its name in the stack model."""
    machines = stack.of_kind(StateMachine)
    arns = {machine.arn(ctx): machine.name for machine in machines}
    return {machine.name: machine_graph(machine.name, machine.definition(stack, ctx), arns) for machine in machines}


def machine_of(execution_arn: str, stack: Stack, ctx: Context) -> str | None:
    """The name (in the stack model) of the machine `execution_arn` ran, if it is one of `stack`'s.

    Execution ARNs are `arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME`; a Distributed
    Map's child executions have `express`/`execution:MACHINE/MAPRUN:NAME` forms, whose
    machine part is the parent's.
    """
    parts = execution_arn.split(":")
    if len(parts) < 8:
        return None
    physical = parts[6].split("/")[0]
    for machine in stack.of_kind(StateMachine):
        if machine.physical(ctx) == physical:
            return machine.name
    return None
