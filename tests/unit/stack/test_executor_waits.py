"""The executor's waits: botocore's waiters judged by their own acceptors, polled at the
executor's short intervals, bounded, and saying what they saw when they end in failure.

The clients are real botocore clients whose Stubber answers as AWS does (Lambda's
GetFunction while a function is Pending, Active, Failed); no call leaves the process.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from serverless_testbed.errors import DeployError
from serverless_testbed.stack import executor
from serverless_testbed.stack.calls import Call
from serverless_testbed.stack.planner import Change

NAME = "tb-csv-start"


def _function(state: str, reason: str = "") -> dict[str, Any]:
    config: dict[str, Any] = {"FunctionName": NAME, "State": state}
    if reason:
        config["StateReason"] = reason
    return {"Configuration": config}


class Lambda:
    """One stubbed Lambda client; `calls` lists the operations made, in order."""

    def __init__(self) -> None:
        session = boto3.Session(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x", region_name="eu-west-1")
        self.client: Any = session.client("lambda")
        self.stubber = Stubber(self.client)
        self.stubber.activate()
        self.calls: list[str] = []
        self.client.meta.events.register_first("before-call.*.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def __call__(self, service: str) -> Any:
        assert service == "lambda", service
        return self.client

    def create(self) -> None:
        """Runs a CreateFunction call with the function_active_v2 waiter, as calls.py makes it."""
        call = Call(
            "lambda",
            "create_function",
            {"FunctionName": NAME, "Role": f"arn:aws:iam::123456789012:role/{NAME}-role", "Code": {"ZipFile": b"x"}},
            waiter="function_active_v2",
            waiter_params={"FunctionName": NAME},
        )
        executor.apply([Change("create", "function", NAME, (call,))], self)


@pytest.fixture(autouse=True)
def quick_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Intervals of milliseconds: the answers are recorded, not waited for."""
    monkeypatch.setattr(executor, "WAIT_FIRST_INTERVAL", 0.001)
    monkeypatch.setattr(executor, "WAIT_MAX_INTERVAL", 0.01)


def test_a_pending_function_is_polled_until_it_is_active() -> None:
    lam = Lambda()
    lam.stubber.add_response("create_function", {"FunctionName": NAME, "State": "Pending"})
    for _ in range(3):
        lam.stubber.add_response("get_function", _function("Pending"), {"FunctionName": NAME})
    lam.stubber.add_response("get_function", _function("Active"), {"FunctionName": NAME})

    lam.create()

    assert lam.calls == ["CreateFunction", "GetFunction", "GetFunction", "GetFunction", "GetFunction"]
    lam.stubber.assert_no_pending_responses()


def test_a_function_that_fails_to_become_active_fails_the_deploy_saying_what_was_seen() -> None:
    lam = Lambda()
    lam.stubber.add_response("create_function", {"FunctionName": NAME, "State": "Pending"})
    lam.stubber.add_response("get_function", _function("Pending"), {"FunctionName": NAME})
    lam.stubber.add_response("get_function", _function("Failed", "image too large"), {"FunctionName": NAME})

    with pytest.raises(DeployError) as raised:
        lam.create()

    message = str(raised.value)
    assert f"create function {NAME}" in message
    assert "function_active_v2 ended in a failure state" in message
    assert "'Failed'" in message
    assert "image too large" in message
    assert lam.calls == ["CreateFunction", "GetFunction", "GetFunction"]


def test_an_error_no_acceptor_expects_ends_the_wait_at_once() -> None:
    lam = Lambda()
    lam.stubber.add_response("create_function", {"FunctionName": NAME, "State": "Pending"})
    lam.stubber.add_client_error(
        "get_function", service_error_code="AccessDeniedException", service_message="not allowed", http_status_code=403
    )

    with pytest.raises(DeployError) as raised:
        lam.create()

    assert "got an error it does not expect" in str(raised.value)
    assert "AccessDeniedException" in str(raised.value)
    assert lam.calls == ["CreateFunction", "GetFunction"]


def test_the_wait_is_bounded_and_names_the_last_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executor, "WAIT_FOR_SECONDS", 0.05)
    lam = Lambda()
    lam.stubber.add_response("create_function", {"FunctionName": NAME, "State": "Pending"})
    for _ in range(1000):  # more than the 50 ms can use
        lam.stubber.add_response("get_function", _function("Pending"), {"FunctionName": NAME})

    with pytest.raises(DeployError) as raised:
        lam.create()

    message = str(raised.value)
    assert f"waiting for create function {NAME}: function_active_v2" in message
    assert "last answer" in message
    assert "'Pending'" in message
    assert lam.calls.count("GetFunction") >= 2
