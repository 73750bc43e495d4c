"""Every workflow's rules module on pathological values: numbers of any length, strings of
any length, NaN and Infinity, nested objects where scalars belong, null everywhere.

The property is the same for each: judging never raises (each fault gets a reason), and
what the rules accept goes through the module's own transform without raising.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from serverless_testbed.lambda_code import load

sales = load("sales_validate", "rules")
transaction = load("check_transaction", "rules")
processing = load("processing_process", "rules")
router = load("router_transform", "rules")
csv_schema = load("csv_etl", "schema")


class Huge(int):
    """An int with more digits than str() writes by default, as JSON can carry; its repr
    stays short so that Hypothesis can report an example holding it."""

    def __repr__(self) -> str:
        return f"Huge(<{self.bit_length()} bits>)"


HUGE = st.builds(lambda sign, exponent: Huge(sign * 10**exponent), st.sampled_from([1, -1]), st.integers(4400, 6000))
ODD_TEXT = st.sampled_from(
    [
        "",
        "   ",
        "9" * 5000,
        "-" + "9" * 5000,
        "0" * 5000 + "7",
        "1e999999999",
        "1e-999999999999999999999999",
        "1E+999999999999999999999999",
        "NaN",
        "sNaN",
        "-Infinity",
        "Infinity",
        "\ud800",  # a lone surrogate, as a JSON escape makes it
        "X" * 3000,
        "١٢٣",  # digits, but not ASCII ones
        "2026-02-30",
        "12/29",
        "4111 1111 1111 1111",
    ]
)
TEXT = st.text(max_size=40) | ODD_TEXT
NUMBER = (
    st.integers()
    | HUGE
    | st.sampled_from([2**63, -(2**63)])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.decimals(allow_nan=True, allow_infinity=True)
)
SCALAR = ODD_TEXT | HUGE | st.none() | st.booleans() | NUMBER | TEXT
WILD = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def record_of(fields: tuple[str, ...], values: st.SearchStrategy[Any] = WILD) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts with some or all of `fields` (any values), plus a few stray keys."""
    return st.fixed_dictionaries({}, optional=dict.fromkeys(fields, values)) | st.dictionaries(
        st.sampled_from(fields) | st.text(max_size=5), values, max_size=len(fields) + 2
    )


def _storable(value: Any) -> bool:
    if isinstance(value, str):
        value.encode("utf-8")
        return True
    return not isinstance(value, float) or math.isfinite(value)


@given(record=record_of(sales.FIELDS), extra=st.dictionaries(st.sampled_from(["error", "duplicate_of"]), WILD))
def test_sales_validation_gives_reasons_for_anything(record: dict[str, Any], extra: dict[str, Any]) -> None:
    reasons = sales.validate({"line": 1, "record": record, **extra})
    assert isinstance(reasons, list)
    assert all(isinstance(reason, str) and len(reason) <= sales.MAX_TEXT for reason in reasons)
    if not reasons:
        item = sales.to_dynamodb_item(sales.normalize(record))
        json.dumps(item)
        assert len(item["orderId"]["S"].encode("utf-8")) <= 2048, "the table's key limit"
        assert all(_storable(next(iter(value.values()))) for value in item.values())


@given(entry=WILD)
def test_sales_validation_takes_an_entry_of_any_shape(entry: Any) -> None:
    assert isinstance(sales.validate(entry), list)


SALES_NEAR_VALID = {
    "orderId": st.just("S-1") | TEXT,
    "orderDate": st.just("2026-01-02") | TEXT,
    "customerId": st.just("C-1") | TEXT,
    "productId": st.sampled_from(sales.PRODUCTS) | TEXT,
    "region": st.sampled_from(sales.REGIONS) | TEXT,
    "quantity": st.integers(1, 10) | NUMBER | TEXT,
    "unitPrice": st.just("9.99") | NUMBER | TEXT,
}


@given(record=st.fixed_dictionaries(SALES_NEAR_VALID))
def test_sales_records_one_fault_away_from_valid_are_judged_and_stored_cleanly(record: dict[str, Any]) -> None:
    if not sales.validate({"line": 1, "record": record}):
        item = sales.to_dynamodb_item(sales.normalize(record))
        assert Decimal(item["total"]["N"]) == Decimal(item["unitPrice"]["N"]) * int(item["quantity"]["N"])


TRANSACTION_FIELDS = ("cardNumber", "expiry", "amount", "limit")


@given(
    order=record_of(("orderDate", "amount", "transaction")),
    card=record_of(TRANSACTION_FIELDS, WILD | st.sampled_from(["4111111111111111", "12/30", "10.00"])),
    today=st.none() | TEXT,
)
def test_card_checks_decline_anything_with_reasons(order: dict[str, Any], card: dict[str, Any], today: Any) -> None:
    approved, reasons = transaction.check({**order, "transaction": card}, today=today)
    assert approved is (not reasons)
    assert all(isinstance(reason, str) for reason in reasons)


@given(order=WILD)
def test_card_checks_take_an_order_of_any_shape(order: Any) -> None:
    approved, reasons = transaction.check(order)
    assert approved is False
    assert reasons


@given(payload=WILD | record_of(processing.FIELDS))
def test_process_data_requests_get_reasons_for_anything(payload: Any) -> None:
    problems = processing.problems(payload)
    assert all(isinstance(code, str) and isinstance(message, str) for code, message in problems)
    if not problems:
        processed = processing.process(payload)
        json.dumps(processed)


@given(row=record_of(router.FIELDS, WILD | st.sampled_from(["US", "EUR", "basic", "9.99"])))
def test_subscription_rows_get_reasons_for_anything(row: dict[str, Any]) -> None:
    reasons = router.check(row)
    assert all(isinstance(reason, str) for reason in reasons)
    if not reasons:
        curated = router.curate(row)
        json.dumps(curated)


CSV_CELL = st.none() | TEXT | st.sampled_from(["T-1", "2026-01-02", "3", "9.99", "usd", "x" * 300])


@given(fields=st.fixed_dictionaries(dict.fromkeys(csv_schema.COLUMNS, CSV_CELL)))
def test_csv_etl_rows_get_reasons_for_anything(fields: dict[str, Any]) -> None:
    reasons = csv_schema.row_reasons(fields)
    assert all(isinstance(reason, str) for reason in reasons)
    if not reasons:
        target = csv_schema.transform(fields)
        assert target["amount"] == (target["unit_price"] * target["quantity"]).quantize(csv_schema.CENT)
    assert isinstance(csv_schema.RowJudge().judge(1, fields), list)


@given(fields=st.dictionaries(st.sampled_from(csv_schema.COLUMNS) | st.text(max_size=5), CSV_CELL))
def test_csv_etl_rows_missing_columns_get_reasons(fields: dict[str, Any]) -> None:
    assert isinstance(csv_schema.row_reasons(fields), list)


# The hazards each module met before, one by one: Hypothesis need not stumble on them.
HAZARDS = [Huge(10**5000), Huge(-(10**5000)), "9" * 5000, "1e999999999", "NaN", float("nan"), float("inf"), "\ud800"]
HAZARDS += [{"nested": [1, {"deeper": None}]}, [None], None, "X" * 3000]


def _label(value: Any) -> str:
    return (
        repr(value)
        if len(repr(value)) < 30
        else f"{type(value).__name__} of {len(str(value)) if isinstance(value, str) else '?'}"
    )


@pytest.mark.parametrize("value", HAZARDS, ids=_label)
def test_each_hazard_in_any_field_is_judged_and_in_a_number_field_rejected(value: Any) -> None:
    """Any field: judged without raising. Fields that hold numbers: rejected (no hazard is a sane number)."""
    for name in sales.FIELDS:
        reasons = sales.validate({"line": 1, "record": {**SALES_VALID, name: value}})
        assert reasons or name not in ("quantity", "unitPrice"), f"sales {name}={_label(value)} accepted"
    assert isinstance(sales.validate({"line": 1, "record": SALES_VALID, "error": value}), list)
    for name in TRANSACTION_FIELDS:
        approved, _ = transaction.check(
            {"orderDate": "2026-01-02", "amount": "10.00", "transaction": {**CARD_VALID, name: value}}
        )
        assert not approved or name == "limit", f"card {name}={_label(value)} approved"  # a huge limit is a limit
    assert not transaction.check({"orderDate": "2026-01-02", "amount": value, "transaction": CARD_VALID})[0]
    for name in ("message", "requestId", "priority"):
        problems = processing.problems({"message": "hello", name: value})
        assert problems or name != "priority", f"processing {name}={_label(value)} accepted"
    for name in router.FIELDS:
        reasons = router.check({**ROUTER_VALID, name: value})
        assert reasons or name not in ("price", "currency", "country", "plan"), f"router {name}={_label(value)}"
    for name in csv_schema.COLUMNS:
        reasons = csv_schema.row_reasons({**CSV_VALID, name: value})
        assert reasons or name in ("transaction_id", "store", "product"), f"csv-etl {name}={_label(value)} accepted"


SALES_VALID = {
    "orderId": "S-1",
    "orderDate": "2026-01-02",
    "customerId": "C-1",
    "productId": "P-1001",
    "region": "north",
    "quantity": 3,
    "unitPrice": "9.99",
}
CARD_VALID = {"cardNumber": "4111111111111111", "expiry": "12/30", "amount": "10.00", "limit": "100"}
ROUTER_VALID = {
    "subscriptionId": "SUB-1",
    "country": "US",
    "platform": "web",
    "plan": "basic",
    "price": "9.99",
    "currency": "USD",
}
CSV_VALID = {
    "transaction_id": "T-1",
    "date": "2026-01-02",
    "store": "Main St",
    "product": "Tea",
    "quantity": "3",
    "unit_price": "9.99",
    "currency": "usd",
}


def test_the_valid_examples_are_valid() -> None:
    assert sales.validate({"line": 1, "record": SALES_VALID}) == []
    assert transaction.check({"orderDate": "2026-01-02", "amount": "10.00", "transaction": CARD_VALID}) == (True, [])
    assert processing.problems({"message": "hello"}) == []
    assert router.check(ROUTER_VALID) == []
    assert csv_schema.row_reasons(CSV_VALID) == []


def test_a_price_too_large_to_convert_exactly_is_a_bad_price() -> None:
    assert router.check({**ROUTER_VALID, "price": "1e40"}) == ["bad-price"]
    assert router.curate({**ROUTER_VALID, "price": "999999999999.99"})["priceUsd"] == "999999999999.99"
