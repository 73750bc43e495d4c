"""The tolerated failure threshold of a Distributed Map run (AWS Step Functions Developer
Guide, maprun-fail-threshold.html): beyond the count, or beyond the percentage of all items,
either one when both are given; with neither, no failure is tolerated."""

from __future__ import annotations

import pytest
from serverless_testbed.localstack_plugins.sfn_map_runs import exceeds_threshold

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("failed", "total", "count", "percentage", "declared", "exceeded"),
    [
        (0, 5, 0, 0.0, (False, False), False),
        (1, 5, 0, 0.0, (False, False), True),
        (2, 5, 2, 0.0, (True, False), False),  # the count given, the percentage's 0 is no limit
        (3, 5, 2, 0.0, (True, False), True),
        (2, 5, 0, 40.0, (False, True), False),
        (2, 5, 0, 39.9, (False, True), True),
        (1, 5, 5, 10.0, (True, True), True),  # beyond the percentage, within the count
        (3, 5, 2, 100.0, (True, True), True),  # beyond the count, within the percentage
        (0, 0, 0, 0.0, (True, True), False),  # no items at all
    ],
)
def test_the_threshold(
    failed: int, total: int, count: int, percentage: float, declared: tuple[bool, bool], exceeded: bool
) -> None:
    assert exceeds_threshold(failed, total, count, percentage, declared) is exceeded
