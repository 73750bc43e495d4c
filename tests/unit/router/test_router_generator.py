"""The subscription generator: seeded, an exact share of bad rows, each labelled with the
reason the transform gives for it, in both file formats."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from serverless_testbed.generators import dump, expectations, kinds
from serverless_testbed.lambda_code import load

from fixtures.subscriptions import (
    COUNTRIES,
    CURRENCY_OF,
    FAULTS,
    PLANS,
    USD_PER_UNIT,
    expected_curated,
    generate_subscriptions,
    line_of,
    render_subscriptions,
)

transform = load("router_transform", "handler")
rules = load("router_transform", "rules")
FORMATS = ("jsonl", "csv")


def test_the_kind_is_registered() -> None:
    assert kinds()["router"] is generate_subscriptions


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_same_seed_same_file_other_seed_other_file(fmt: str) -> None:
    assert dump("router", 40, 0.2, 3, fmt) == dump("router", 40, 0.2, 3, fmt)
    assert dump("router", 40, 0.2, 3, fmt) != dump("router", 40, 0.2, 4, fmt)
    assert expectations("router", 40, 0.2, 3) == expectations("router", 40, 0.2, 3)


@pytest.mark.parametrize(("records", "rate", "bad"), [(0, 0.5, 0), (50, 0.0, 0), (50, 0.2, 10), (7, 1.0, 7)])
def test_the_invalid_rate_gives_exactly_that_share_of_bad_rows(records: int, rate: float, bad: int) -> None:
    generated = generate_subscriptions(records, rate, seed=9)
    seen = sum(not item.expected.valid for item in generated)
    assert (len(generated), seen) == (records, bad), f"expected {records} rows, {bad} bad; saw {len(generated)}, {seen}"


def test_every_fault_and_loose_currencies_occur() -> None:
    generated = generate_subscriptions(600, 0.4, seed=1)
    reasons = Counter(item.expected.reasons[0].split(":")[0] for item in generated if not item.expected.valid)
    assert set(reasons) == set(FAULTS), f"expected every fault in 240 bad rows, saw {dict(reasons)}"
    loose = [
        item.record["currency"]
        for item in generated
        if item.expected.valid and item.record["currency"] not in USD_PER_UNIT
    ]
    assert loose, "expected some good rows with a loosely spelled currency"
    assert all(code.strip().upper() in USD_PER_UNIT for code in loose), loose


def test_a_bad_row_has_exactly_one_reason_and_a_good_row_a_curated_form() -> None:
    for item in generate_subscriptions(200, 0.5, seed=4):
        if item.expected.valid:
            curated = expected_curated(item.record)
            assert curated["currency"] == CURRENCY_OF[item.record["country"]], (item.record, curated)
        else:
            assert len(item.expected.reasons) == 1, item.expected


def test_the_generator_and_the_transform_share_their_tables() -> None:
    assert COUNTRIES == rules.COUNTRIES
    assert PLANS == rules.PLANS
    assert USD_PER_UNIT == rules.USD_PER_UNIT
    assert set(CURRENCY_OF.values()) <= set(rules.USD_PER_UNIT)


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render_subscriptions(generate_subscriptions(2, 0, 1), "xml")


def outcomes(records: int, rate: float, seed: int, fmt: str) -> list[tuple[str, int, object]]:
    """What the transform does with the rendered file: (outcome, line, reasons or curated form)."""
    generated = generate_subscriptions(records, rate, seed)
    key = f"raw/file.{fmt}"
    curated, rejected = transform.transform(render_subscriptions(generated, fmt), key)
    seen = [("curated", row["sourceLine"], row) for row in curated]
    seen += [("rejected", row["line"], row["reasons"]) for row in rejected]
    return sorted(seen, key=lambda outcome: outcome[1])


def labels(records: int, rate: float, seed: int, fmt: str) -> list[tuple[str, int, object]]:
    """What the generator says the transform must do, row by row."""
    expected: list[tuple[str, int, object]] = []
    for index, item in enumerate(generate_subscriptions(records, rate, seed)):
        line = line_of(index, fmt)
        if item.expected.valid:
            want = expected_curated(item.record) | {"sourceLine": line, "sourceKey": f"raw/file.{fmt}"}
            expected.append(("curated", line, want))
        else:
            expected.append(("rejected", line, list(item.expected.reasons)))
    return expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_row_is_curated_or_rejected_as_labelled(fmt: str) -> None:
    assert outcomes(400, 0.3, 6, fmt) == labels(400, 0.3, 6, fmt)


@given(records=st.integers(0, 60), rate=st.floats(0, 1), seed=st.integers(0, 2**32), fmt=st.sampled_from(FORMATS))
def test_the_labels_match_the_transform_for_any_seed(records: int, rate: float, seed: int, fmt: str) -> None:
    assert outcomes(records, rate, seed, fmt) == labels(records, rate, seed, fmt)


def test_the_expectations_sidecar_follows_the_file_line_by_line() -> None:
    sidecar = [json.loads(line) for line in expectations("router", 30, 0.3, 2).splitlines()]
    rows = dump("router", 30, 0.3, 2, "jsonl").splitlines()
    assert len(sidecar) == len(rows) == 30
    for label, line in zip(sidecar, rows, strict=True):
        if label["expected"]["reasons"] != ["malformed-line"]:
            assert json.loads(line)["subscriptionId"] == label["record"]["subscriptionId"]
