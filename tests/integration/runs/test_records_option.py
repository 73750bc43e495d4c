"""`--records N` (RunOptions.records) is the number of records a run sends, for every
workflow: one that sends several files shares them between the files."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from serverless_testbed.deploy import Deployer
from serverless_testbed.runs import RunOptions, runners
from serverless_testbed.stack.stack import Stack

# The count of each workflow's run that names the records it sent.
SENT = {"orders": "orders", "sales": "records", "processing": "requests", "router": "rows", "csv-etl": "rows"}


@pytest.mark.parametrize(
    ("workflow", "records"),
    [("orders", 7), ("sales", 7), ("processing", 7), ("router", 7), ("csv-etl", 7), ("csv-etl", 2), ("sales", 1)],
)
def test_records_is_what_a_run_sends_for_every_workflow(
    deploy: Callable[[str], Stack], deployer: Deployer, workflow: str, records: int
) -> None:
    stack = deploy(workflow)
    result = runners()[workflow](deployer, stack, RunOptions(records=records, invalid_rate=0.3, seed=3))

    assert result.ok, result.problems[:5]
    assert result.counts[SENT[workflow]] == records, result.counts
    if workflow == "sales":  # the two files share them: 4 and 3 of 7; a single record goes alone
        totals = [execution.output["total"] for execution in result.executions]
        assert totals == ([4, 3] if records == 7 else [1]), totals
    if workflow == "csv-etl":  # a good file and a bad one, together holding the records
        assert result.counts["files"] == 2, result.counts
        assert result.counts["rows_in_invalid_files"] == (2 if records == 7 else 0), result.counts
