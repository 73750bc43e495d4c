"""An engine started with TESTBED_SFN_RETRY_SCALE waits a fraction of each Retry interval,
and retries exactly as often as without it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from serverless_testbed.engine.embedded import EmbeddedEngine
from serverless_testbed.executions import wait_execution
from serverless_testbed.localstack_plugins.sfn_retry_scale import RETRY_SCALE_VAR

from tests.integration.engine.own_engine import engine_with

INTERVAL_S = 10
# A Parallel state whose only branch always fails; retried twice, INTERVAL_S apart.
ALWAYS_FAILS = {
    "StartAt": "P",
    "States": {
        "P": {
            "Type": "Parallel",
            "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "always"}}}],
            "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": INTERVAL_S, "MaxAttempts": 2, "BackoffRate": 1}],
            "End": True,
        }
    },
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture(scope="module")
def scaled_engine() -> Iterator[EmbeddedEngine]:
    yield from engine_with({RETRY_SCALE_VAR: "0.01"})


@pytest.mark.embedded_only(reason="starts an embedded engine with a setting of its own")
def test_retries_happen_as_often_but_wait_a_hundredth(scaled_engine: EmbeddedEngine):
    iam, sfn = scaled_engine.client("iam"), scaled_engine.client("stepfunctions")
    role = iam.create_role(RoleName="retry-scale", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    machine = sfn.create_state_machine(name="retry-scale", definition=json.dumps(ALWAYS_FAILS), roleArn=role)
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]

    execution = wait_execution(scaled_engine.client, arn, timeout=60)

    assert execution.status == "FAILED"
    assert execution.error == "Boom"
    attempts = [event for event in execution.history if event["type"] == "ParallelStateStarted"]
    assert len(attempts) == 3, "the first attempt and both retries ran"
    # Unscaled, the execution lasts at least 2 x INTERVAL_S; scaled, a fraction of one interval.
    assert execution.seconds < INTERVAL_S, f"two retries {INTERVAL_S} s apart took {execution.seconds:.2f} s"
