"""Workflow 1's card rules (src/check_transaction/rules.py): decided by the order's data alone."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from serverless_testbed.lambda_code import load

rules = load("check_transaction", "rules")

ORDER: dict[str, Any] = {
    "customerID": "C000001",
    "orderID": "O-1",
    "orderDate": "2026-03-14",
    "amount": "39.98",
    "currency": "EUR",
    "items": [{"product": "mouse", "quantity": 2, "unitPrice": "19.99"}],
    "transaction": {"cardNumber": "4111111111111111", "expiry": "03/26", "amount": "39.98", "limit": "100.00"},
}


def order(**transaction: Any) -> dict[str, Any]:
    """ORDER with some transaction fields replaced (None removes the field)."""
    changed = copy.deepcopy(ORDER)
    for key, value in transaction.items():
        if value is None:
            changed["transaction"].pop(key, None)
        else:
            changed["transaction"][key] = value
    return changed


def test_a_good_order_is_approved() -> None:
    assert rules.check(ORDER) == (True, [])


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4111111111111111", True),
        ("4111 1111 1111 1111", True),
        ("378282246310005", True),  # 15-digit test number
        ("4111111111111112", False),  # check digit off by one
        ("41111111111111a1", False),
        ("411111111111", False),  # 12 digits, bad check digit
        ("0" * 20, False),  # too long, though the digits sum to 0
        ("", False),
        ("²" * 16, False),  # Unicode digits are not card digits (and must not crash)
    ],
)
def test_luhn(number: str, valid: bool) -> None:
    assert rules.luhn_valid(number) is valid


@given(st.text(alphabet="0123456789", min_size=11, max_size=18))
def test_exactly_one_check_digit_passes_luhn(partial: str) -> None:
    assert sum(rules.luhn_valid(partial + str(digit)) for digit in range(10)) == 1


@pytest.mark.parametrize(
    ("expiry", "reasons"),
    [
        ("03/26", []),  # valid through the end of the order's month
        ("12/30", []),
        ("02/26", ["card-expired"]),
        ("12/25", ["card-expired"]),
        ("13/27", ["card-expiry-unreadable"]),
        ("3/27", ["card-expiry-unreadable"]),
        ("03/2027", ["card-expiry-unreadable"]),
        (None, ["card-expiry-unreadable"]),
    ],
)
def test_expiry_is_compared_with_the_order_month(expiry: str | None, reasons: list[str]) -> None:
    assert rules.check(order(expiry=expiry)) == (not reasons, reasons)


def test_the_verdict_never_depends_on_the_clock() -> None:
    """An order from 2001 with a card that expired in 2002: approved, whatever today is."""
    old = order(expiry="01/02") | {"orderDate": "2001-12-31"}
    assert rules.check(old) == (True, [])
    assert rules.check(old, today="2099-01-01") == (True, [])


def test_today_is_only_the_date_of_an_order_that_has_none() -> None:
    undated = {key: value for key, value in ORDER.items() if key != "orderDate"}
    assert rules.check(undated) == (False, ["order-date-unreadable"])
    assert rules.check(undated, today="2026-03-31") == (True, [])
    assert rules.check(undated, today="2026-04-01") == (False, ["card-expired"])
    assert rules.check(ORDER | {"orderDate": "2026-02-30"}) == (False, ["order-date-unreadable"])


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({"limit": "39.98"}, []),  # exactly the limit is fine
        ({"limit": "39.97"}, ["amount-over-limit"]),
        ({"limit": "0"}, ["amount-over-limit"]),
        ({"amount": "39.99"}, ["amount-mismatch"]),
        ({"amount": "200.00"}, ["amount-mismatch", "amount-over-limit"]),
        ({"amount": None}, []),  # no separate charge: the order amount is charged
        ({"amount": 39.98, "limit": 100}, []),  # numbers work as well as strings
        ({"limit": None}, ["amount-invalid"]),
        ({"limit": "-1"}, ["amount-invalid"]),
        ({"limit": "lots"}, ["amount-invalid"]),
        ({"amount": "NaN"}, ["amount-invalid"]),
        ({"amount": "0"}, ["amount-invalid"]),
        ({"amount": True}, ["amount-invalid"]),
    ],
)
def test_amount_rules(changes: dict[str, Any], reasons: list[str]) -> None:
    assert rules.check(order(**changes)) == (not reasons, reasons)


def test_every_reason_is_reported_together_in_a_fixed_order() -> None:
    bad = order(cardNumber="1234", expiry="01/20", amount="500", limit="1") | {"amount": "-3"}
    assert rules.check(bad) == (False, ["card-number-invalid", "card-expired", "amount-invalid"])
    assert rules.check({}) == (
        False,
        ["card-number-invalid", "card-expiry-unreadable", "order-date-unreadable", "amount-invalid"],
    )
    assert rules.check(ORDER | {"transaction": "4111111111111111"})[1][0] == "card-number-invalid"


JSON_VALUES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)


@given(
    top=st.dictionaries(st.sampled_from(["orderDate", "amount", "transaction"]), JSON_VALUES),
    transaction=st.dictionaries(st.sampled_from(["cardNumber", "expiry", "amount", "limit"]), JSON_VALUES),
    today=st.none() | st.text(max_size=12),
)
def test_any_input_gets_a_verdict_never_an_exception(
    top: dict[str, Any], transaction: dict[str, Any], today: str | None
) -> None:
    approved, reasons = rules.check({**top, "transaction": transaction}, today)
    assert approved is (not reasons)
    assert len(reasons) == len(set(reasons))
