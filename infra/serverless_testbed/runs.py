"""What a run of a workflow on generated data is: `testbed run <workflow>` and `testbed demo`.

A runner generates records with a seeded Faker generator, sends them through the
workflow's real trigger (an S3 upload, an HTTP request, a start-execution), waits for
every execution, then checks the outcome against each record's expected outcome.

Each run has its own id (`RunOptions.run_id`, fresh unless given), which the generators
put into every id they make: runs with the same seed send the same records modulo that
id, so a run repeated, or run twice at once, finds only its own records and messages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from serverless_testbed.deploy import Deployer
from serverless_testbed.executions import Execution
from serverless_testbed.progress import QUIET, Progress
from serverless_testbed.stack.stack import Stack


@dataclass
class RunResult:
    """What happened in one run, as a user reads it."""

    workflow: str
    executions: list[Execution]
    counts: dict[str, int]
    seconds: float
    problems: list[str] = field(default_factory=list)  # expected vs seen, in words
    details: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def new_run_id() -> str:
    """A fresh run id (8 hex digits): short enough for every id it goes into."""
    return uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class RunOptions:
    """What to generate for a run; `run_id` scopes the generated ids to this run.

    `records` is the number of records the run sends in all, whatever the workflow (a
    workflow sending several files splits them between the files); `progress` hears how
    far the run got (nothing is shown by default)."""

    records: int = 20
    invalid_rate: float = 0.1
    seed: int = 7
    run_id: str = field(default_factory=new_run_id)
    progress: Progress = field(default=QUIET, compare=False, repr=False)

    def __post_init__(self) -> None:
        from serverless_testbed.records import run_tag  # lazily: fixtures need Faker, the CLI starts without it

        run_tag(self.run_id)  # refuse a run id that cannot go into the ids, before anything is sent


def split(records: int, parts: int) -> list[int]:
    """`records` shared between `parts` files as evenly as can be, the first ones taking
    the remainder (5 into 2: 3 and 2); a part may be 0."""
    share, extra = divmod(records, parts)
    return [share + (index < extra) for index in range(parts)]


class Runner(Protocol):
    def __call__(self, deployer: Deployer, stack: Stack, options: RunOptions) -> RunResult: ...


def runners() -> dict[str, Runner]:
    """Every workflow's runner, by workflow name, from the registry (imported when asked
    for: runners need Faker)."""
    from serverless_testbed.registry import workflows

    return {name: workflow.load_runner() for name, workflow in workflows().items()}
