"""Bounded polling: returns the probe's value, or fails naming what it waited for."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from serverless_testbed import waiting
from serverless_testbed.errors import WaitTimeout
from serverless_testbed.waiting import wait_for


class FakeClock:
    """Stands in for the time module inside serverless_testbed.waiting: sleeping only advances the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(waiting, "time", fake)
    return fake


def test_returns_the_first_truthy_value_without_sleeping(clock: FakeClock):
    assert wait_for(lambda: {"status": "ACTIVE"}, timeout=5) == {"status": "ACTIVE"}
    assert clock.sleeps == []


def test_polls_until_the_probe_is_truthy(clock: FakeClock):
    values: Iterator[object] = iter([None, 0, "", [], "ready"])
    assert wait_for(lambda: next(values), timeout=5) == "ready"
    assert len(clock.sleeps) == 4


def test_exceptions_mean_not_yet(clock: FakeClock):
    calls = itertools.count()

    def probe() -> int:
        if next(calls) < 2:
            raise ConnectionError("refused")
        return 7

    assert wait_for(probe, timeout=5) == 7


def test_timeout_names_what_was_awaited_and_the_last_value(clock: FakeClock):
    states = iter(["CREATING", "CREATING", "UPDATING"] + ["UPDATING"] * 1000)

    with pytest.raises(WaitTimeout) as raised:
        wait_for(lambda: next(states) == "ACTIVE" and "done", timeout=2, what="stream s1 active")
    message = str(raised.value)
    assert "timed out after 2.0 s waiting for stream s1 active" in message
    assert "last seen: False" in message


def test_timeout_reports_the_last_value_the_probe_returned(clock: FakeClock):
    with pytest.raises(WaitTimeout, match=r"last seen: \[\]"):
        wait_for(list, timeout=1, what="messages")


def test_timeout_reports_the_last_exception(clock: FakeClock):
    def probe() -> bool:
        raise KeyError("Item")

    with pytest.raises(WaitTimeout, match=r"waiting for the item.*KeyError: 'Item'"):
        wait_for(probe, timeout=1, what="the item")


def test_the_interval_grows_and_is_capped(clock: FakeClock):
    with pytest.raises(WaitTimeout):
        wait_for(lambda: False, timeout=10, interval=0.1, max_interval=0.5)
    assert clock.sleeps[:4] == pytest.approx([0.1, 0.15, 0.225, 0.3375])
    assert max(clock.sleeps) == pytest.approx(0.5)
    assert sum(clock.sleeps) == pytest.approx(10)


@given(
    timeout=st.floats(min_value=0, max_value=30),
    interval=st.floats(min_value=0.01, max_value=5),
    max_interval=st.floats(min_value=0.01, max_value=5),
)
def test_never_sleeps_past_the_deadline(timeout: float, interval: float, max_interval: float):
    fake = FakeClock()
    original = waiting.time
    waiting.time = fake  # type: ignore[assignment]
    try:
        with pytest.raises(WaitTimeout):
            wait_for(lambda: None, timeout=timeout, interval=interval, max_interval=max_interval)
    finally:
        waiting.time = original
    assert sum(fake.sleeps) <= timeout + 1e-6
    assert all(s <= max(interval, max_interval) + 1e-9 for s in fake.sleeps)


def test_real_clock_short_wait_returns_and_times_out_quickly():
    started = time.monotonic()
    flips = iter([False, False, True])
    assert wait_for(lambda: next(flips), timeout=1, interval=0.01) is True
    with pytest.raises(WaitTimeout, match="waiting for nothing"):
        wait_for(lambda: False, timeout=0.05, interval=0.01, what="nothing")
    assert time.monotonic() - started < 0.2
