"""The subscription generator against the ETL transform and the fetch feed."""

from __future__ import annotations

import json

import pytest

from fixtures import dump
from fixtures.subscriptions import (
    COUNTRIES,
    CURRENCY_OF,
    PLANS,
    USD_PER_UNIT,
    expected_curated,
    generate_subscriptions,
    render_subscriptions,
)
from tests.unit.lambda_code import load

rules = load("router_transform", "rules")
transform = load("router_transform", "handler")
fetch = load("router_fetch", "handler")


def test_same_seed_same_rows() -> None:
    assert dump("subscriptions", 40, 0.2, 3) == dump("subscriptions", 40, 0.2, 3)
    assert dump("subscriptions", 40, 0.2, 3) != dump("subscriptions", 40, 0.2, 4)


def test_every_row_is_curated_or_rejected_as_labelled() -> None:
    generated = generate_subscriptions(400, 0.3, seed=6)
    rows = transform.read_rows(render_subscriptions(generated))
    assert [line for line, _, _ in rows] == list(range(1, 401)), "one row per line, none lost"
    for item, (_, row, _) in zip(generated, rows, strict=True):
        reasons = ["malformed-line"] if row is None else rules.check(row)
        assert reasons == list(item.expected.reasons), item.record
        if item.expected.valid:
            curated = rules.curate(row)
            assert {k: curated[k] for k in ("priceUsd", "tier", "price")} == expected_curated(item.record)


def test_the_generator_and_the_transform_share_their_tables() -> None:
    assert COUNTRIES == rules.COUNTRIES
    assert PLANS == rules.PLANS
    assert USD_PER_UNIT == rules.USD_PER_UNIT
    assert set(CURRENCY_OF.values()) <= set(rules.USD_PER_UNIT)


@pytest.mark.parametrize(
    ("usd", "tier"), [("7.99", "budget"), ("8.00", "standard"), ("14.99", "standard"), ("15", "premium")]
)
def test_tiers_follow_the_price_in_usd(usd: str, tier: str) -> None:
    row = {"subscriptionId": "s", "country": "US", "platform": "Max", "plan": "basic", "price": usd, "currency": "USD"}
    assert rules.curate(row)["tier"] == tier


def test_the_feed_answers_like_an_http_api() -> None:
    answer = fetch.handler({"country": "JP", "seed": 2}, None)
    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert {plan["currency"] for plan in body["plans"]} == {"JPY"}
    assert answer == fetch.handler({"country": "JP", "seed": 2}, None), "same seed, same feed"
    missing = fetch.handler({"country": "ZZ", "seed": 2}, None)
    assert missing["statusCode"] == 404
    assert "ZZ" in json.loads(missing["body"])["error"]
