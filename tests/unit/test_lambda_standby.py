"""Standby interpreters: a cold start binds a worker started ahead of need, and the function
cannot tell it from one started for it (environment, working directory, time zone, output)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from serverless_testbed.localstack_plugins.lambda_process import STANDBY_ENVIRONMENT, Standby, can_take_standby
from serverless_testbed.waiting import wait_for

from tests.unit.test_lambda_environment import bound_worker, invoke_once

HANDLER = """\
import os, sys, time

print("init ran in", os.getcwd())

def main(event, context):
    print("invoked")
    return {"env": dict(os.environ), "cwd": os.getcwd(), "tz": list(time.tzname), "path0": sys.path[0]}
"""


@pytest.fixture
def function(tmp_path: Path) -> tuple[Path, dict, dict[str, str]]:
    code = tmp_path / "code"
    code.mkdir()
    (code / "handler.py").write_text(HANDLER)
    layout = {"layers": [], "sdk": [str(tmp_path), "/var/lang/lib/python3.12/site-packages"]}
    env = {**STANDBY_ENVIRONMENT, "_HANDLER": "handler.main", "TZ": "America/New_York", "ORDERS_TABLE": "orders"}
    return code, layout, env


@pytest.mark.parametrize("how", ["started", "standby"])
def test_a_bound_worker_is_the_functions_process(how: str, function, tmp_path: Path):
    code, layout, env = function
    log = tmp_path / "worker.log"
    reply = invoke_once(bound_worker(how, code, layout, env, log))
    seen = json.loads(reply["payload"])
    assert seen["env"] == env
    assert seen["cwd"] == str(code)
    assert seen["path0"] == str(code)
    assert seen["tz"] == ["EST", "EDT"], "TZ is the function's, not the standby's"
    # What the function prints also reaches its own log file (read back after a crash or timeout).
    assert log.read_text().splitlines() == [f"init ran in {code}", "invoked"]


def test_a_taken_standby_is_replaced_and_close_stops_them_all():
    pool = Standby(cwd="/")
    pool.prepare(sys.executable)
    first = pool.take(sys.executable)
    assert first is not None
    try:
        second = wait_for(lambda: pool.take(sys.executable), timeout=10, what="a replacement standby")
        assert second.process.pid != first.process.pid, "a standby serves one execution environment only"
        second.kill()
        replacement = wait_for(lambda: pool._waiting.get(sys.executable), timeout=10, what="another standby")
        pool.close()
        wait_for(lambda: replacement.process.poll() is not None, timeout=10, what="the standby to be stopped")
        assert pool.take(sys.executable) is None, "a closed pool keeps nothing"
    finally:
        first.kill()


def test_a_dead_standby_is_not_handed_out():
    pool = Standby(cwd="/")
    pool.prepare(sys.executable)
    waiting = pool._waiting[sys.executable]
    waiting.process.kill()
    waiting.process.wait()
    try:
        assert pool.take(sys.executable) is None
    finally:
        pool.close()


@pytest.mark.parametrize(
    ("locale", "takes"),
    [
        ({}, True),
        ({"LC_ALL": "C"}, False),
        ({"LANG": "en_US.ISO-8859-1"}, False),
        ({"LC_CTYPE": "C.UTF-8"}, False),
    ],
)
def test_only_a_function_with_the_standbys_locale_takes_one(locale: dict[str, str], takes: bool):
    # The interpreter reads its locale as it starts: a different one needs an interpreter of its own.
    assert can_take_standby({**STANDBY_ENVIRONMENT, "_HANDLER": "h.main", **locale}) is takes
