"""Runs of the workflows on generated data: `testbed run <workflow>` and `testbed demo`.

A runner generates records with a seeded Faker generator, sends them through the
workflow's real trigger (an S3 upload, an HTTP request, a start-execution), waits for
every execution, then checks the outcome against each record's expected outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from infra.deploy import Deployer
from infra.executions import Execution
from infra.stack.stack import Stack


@dataclass
class RunResult:
    """What happened in one run, as a user reads it."""

    workflow: str
    executions: list[Execution]
    counts: dict[str, int]
    seconds: float
    problems: list[str] = field(default_factory=list)  # expected vs seen, in words
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class RunOptions:
    records: int = 20
    invalid_rate: float = 0.1
    seed: int = 7


class Runner(Protocol):
    def __call__(self, deployer: Deployer, stack: Stack, options: RunOptions) -> RunResult: ...


def runners() -> dict[str, Runner]:
    """Every workflow's runner, by workflow name (imported lazily: they need Faker)."""
    from infra.runs import csv_etl, orders, processing, router, sales

    return {
        "orders": orders.run,
        "sales": sales.run,
        "processing": processing.run,
        "csv-etl": csv_etl.run,
        "router": router.run,
    }


Clients = Callable[[str], Any]
