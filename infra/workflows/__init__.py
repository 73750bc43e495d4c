"""The five workflows as stack models; `stack_for()` joins the chosen ones into one stack.

Each module holds one workflow's resources (`resources()`) and the names its runner and
tests need. Only the standard library and the stack model are imported here, so the
compose init hook can deploy with the LocalStack image's Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from infra.stack.model import Resource
from infra.stack.stack import Stack
from infra.workflows import csv_etl, orders, processing, router, sales

WORKFLOWS: dict[str, Callable[[], Iterable[Resource]]] = {
    "orders": orders.resources,
    "sales": sales.resources,
    "processing": processing.resources,
    "csv-etl": csv_etl.resources,
    "router": router.resources,
}


def stack_for(workflows: Sequence[str] | None = None) -> Stack:
    """One stack holding the chosen workflows (all of them by default)."""
    names = list(workflows or WORKFLOWS)
    unknown = sorted(set(names) - set(WORKFLOWS))
    if unknown:
        raise ValueError(f"unknown workflow(s) {', '.join(unknown)}; choose from {', '.join(WORKFLOWS)}")
    return Stack.of(*(WORKFLOWS[name]() for name in names))
