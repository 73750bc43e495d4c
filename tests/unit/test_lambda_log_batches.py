"""Lambda logs reach CloudWatch Logs in batches within PutLogEvents' limits (CloudWatch Logs API
reference, PutLogEvents: at most 10,000 events and 1,048,576 bytes, each message's UTF-8 size
plus 26 bytes), made one at a time (localstack_plugins/batching.py)."""

from __future__ import annotations

import pytest
from serverless_testbed.localstack_plugins.batching import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    log_batches,
)

pytestmark = pytest.mark.unit


def batch_bytes(batch: list[dict[str, object]]) -> int:
    return sum(len(str(event["message"]).encode()) + EVENT_OVERHEAD_BYTES for event in batch)


def test_batches_keep_every_line_in_order_within_the_byte_limit() -> None:
    lines = ["é" * 200_000, "short", *[f"line {n} " + "z" * 990 for n in range(3000)]]
    batches = list(log_batches(iter(lines), stamp=7))
    assert [event["message"] for batch in batches for event in batch] == [line + "\n" for line in lines]
    assert all(batch_bytes(batch) <= MAX_BATCH_BYTES for batch in batches)
    assert len(batches) == 4, [batch_bytes(batch) for batch in batches]  # 3.4 MB in full batches
    assert {event["timestamp"] for batch in batches for event in batch} == {7}


def test_batches_hold_at_most_ten_thousand_events() -> None:
    batches = list(log_batches(iter(["."] * 25_000), stamp=1))
    assert [len(batch) for batch in batches] == [MAX_BATCH_EVENTS, MAX_BATCH_EVENTS, 5_000]


def test_nothing_printed_is_no_batch() -> None:
    assert list(log_batches(iter([]), stamp=1)) == []
