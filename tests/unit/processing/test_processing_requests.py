"""The request generator against the two validators it feeds: the Lambda's and the app's."""

from __future__ import annotations

import json
from types import ModuleType

import pytest
from serverless_testbed.generators import dump, kinds

from fixtures.requests import FAULTS, MAX_MESSAGE, MAX_REQUEST_ID, NOT_JSON, Request, generate_requests


def requests(records: int, rate: float, seed: int) -> list[Request]:
    generated = generate_requests(records, rate, seed)
    assert all(isinstance(item, Request) for item in generated)
    return [item for item in generated if isinstance(item, Request)]


def test_same_seed_same_requests_other_seed_other_requests() -> None:
    assert dump("processing", 40, 0.3, seed=5) == dump("processing", 40, 0.3, seed=5)
    assert dump("processing", 40, 0.3, seed=5) != dump("processing", 40, 0.3, seed=6)
    assert kinds()["processing"] is generate_requests


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 1.0])
def test_the_share_of_bad_requests_is_the_one_asked_for(rate: float) -> None:
    generated = requests(200, rate, 3)
    assert sum(not item.expected.valid for item in generated) == round(200 * rate)


def test_invalid_rate_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        generate_requests(10, 1.5, 1)


def test_every_fault_is_generated_with_one_reason_and_status_400() -> None:
    generated = requests(400, 1.0, seed=8)
    assert {item.expected.reasons[0] for item in generated} == set(FAULTS)
    for item in generated:
        assert (len(item.expected.reasons), item.status) == (1, 400), item.as_dict()


def test_good_requests_are_json_objects_with_a_message_and_status_200() -> None:
    for item in requests(100, 0.0, seed=2):
        assert (item.status, item.is_json) == (200, True), item.as_dict()
        assert json.loads(item.body or "null") == item.record, item.as_dict()
        assert item.record["message"].strip(), item.record
        assert len(item.record["message"]) <= MAX_MESSAGE, item.record
        assert item.record["requestId"].startswith("R-2-"), item.record


def test_bodies_that_are_not_json_are_marked() -> None:
    for item in requests(300, 1.0, seed=5):
        fault = item.expected.reasons[0]
        assert item.is_json is (fault not in NOT_JSON), item.as_dict()
        if fault == "no-body":
            assert (item.body, item.record) == (None, None), item.as_dict()
        elif fault == "invalid-json":
            assert item.record == item.body
            with pytest.raises(json.JSONDecodeError):
                json.loads(item.body or "")
        else:
            assert json.loads(item.body or "") == item.record


def test_as_dict_carries_the_body_and_the_status() -> None:
    item = requests(1, 1.0, seed=1)[0]
    shown = item.as_dict()
    assert (shown["body"], shown["status"], shown["expected"]["valid"]) == (item.body, 400, False), shown


@pytest.mark.parametrize("seed", range(6))
def test_the_lambda_gives_every_request_exactly_its_label(rules: ModuleType, seed: int) -> None:
    for item in requests(150, 0.6, seed):
        try:
            codes = [code for code, _ in rules.problems(rules.parse_body(item.body))]
        except rules.InvalidRequest as err:
            codes = err.codes
        assert codes == list(item.expected.reasons), (
            f"body {item.body!r}: expected {item.expected.reasons}, saw {codes}"
        )


@pytest.mark.parametrize("seed", range(6))
def test_the_app_gives_every_request_exactly_its_label(api_app: ModuleType, seed: int) -> None:
    for item in requests(150, 0.6, seed):
        try:
            api_app.parse((item.body or "").encode())
            codes = []
        except api_app.BadRequest as err:
            codes = [code for code, _ in err.reasons]
        assert codes == list(item.expected.reasons), (
            f"body {item.body!r}: expected {item.expected.reasons}, saw {codes}"
        )


def test_the_generator_and_the_validators_share_their_limits(rules: ModuleType, api_app: ModuleType) -> None:
    schema = api_app.ProcessRequest.model_json_schema()["properties"]
    assert MAX_MESSAGE == rules.MAX_MESSAGE == schema["message"]["maxLength"]
    assert MAX_REQUEST_ID == rules.MAX_REQUEST_ID == schema["requestId"]["maxLength"]
    assert set(schema) == set(rules.FIELDS)
    assert tuple(api_app.ORDER) == FAULTS
