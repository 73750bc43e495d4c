"""Workflow 2's validation (src/sales_validate/rules.py): reasons per entry, and the stored item."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from serverless_testbed.lambda_code import load

rules = load("sales_validate", "rules")

JSON_RECORD: dict[str, Any] = {
    "orderId": "S-1",
    "orderDate": "2026-01-02",
    "customerId": "CUST-00001",
    "productId": "P-1001",
    "region": "north",
    "quantity": 3,
    "unitPrice": 9.99,
}
CSV_RECORD = {key: str(value) for key, value in JSON_RECORD.items()}


def entry(record: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    return {"line": 1, "record": record, "error": None, "raw": None, "duplicate_of": None} | extra


def test_good_records_from_json_and_csv_are_valid() -> None:
    assert rules.validate(entry(JSON_RECORD)) == []
    assert rules.validate(entry(CSV_RECORD)) == []
    assert rules.validate(entry(JSON_RECORD | {"quantity": "3", "unitPrice": "1e1", "extra": [1]})) == []


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({"orderId": None}, ["missing-field:orderId"]),
        ({"customerId": ""}, ["missing-field:customerId"]),
        ({"region": "   "}, ["missing-field:region"]),
        ({"orderId": 17}, ["wrong-type:orderId"]),
        ({"productId": ["P-1001"]}, ["wrong-type:productId"]),
        ({"orderDate": 20260102}, ["wrong-type:orderDate"]),
        ({"quantity": "abc"}, ["wrong-type:quantity"]),
        ({"quantity": 2.5}, ["wrong-type:quantity"]),
        ({"quantity": "2.5"}, ["wrong-type:quantity"]),
        ({"quantity": True}, ["wrong-type:quantity"]),
        ({"quantity": "²"}, ["wrong-type:quantity"]),  # a Unicode digit, not a number
        ({"unitPrice": "12x"}, ["wrong-type:unitPrice"]),
        ({"unitPrice": "NaN"}, ["wrong-type:unitPrice"]),
        ({"unitPrice": "Infinity"}, ["wrong-type:unitPrice"]),
        ({"unitPrice": {"amount": 1}}, ["wrong-type:unitPrice"]),
        ({"quantity": 0}, ["non-positive-quantity"]),
        ({"quantity": "-4"}, ["non-positive-quantity"]),
        ({"unitPrice": 0}, ["non-positive-price"]),
        ({"unitPrice": "-0.50"}, ["non-positive-price"]),
        ({"unitPrice": "0.004"}, ["non-positive-price"]),  # stored as 0.00
        ({"unitPrice": "-1e40"}, ["non-positive-price"]),
        ({"quantity": 10**7}, ["out-of-range:quantity"]),
        ({"unitPrice": "1e40"}, ["out-of-range:unitPrice"]),
        ({"orderDate": "2026-02-30"}, ["bad-date"]),
        ({"orderDate": "2026-13-01"}, ["bad-date"]),
        ({"orderDate": "20260102"}, ["bad-date"]),
        ({"orderDate": "2026-01-02T10:00:00"}, ["bad-date"]),
        ({"productId": "P-9999"}, ["unknown-product"]),
        ({"region": "North"}, ["unknown-region"]),
    ],
)
def test_each_fault_gets_its_reason_alone(changes: dict[str, Any], reasons: list[str]) -> None:
    assert rules.validate(entry(JSON_RECORD | changes)) == reasons


def test_a_missing_key_is_a_missing_field() -> None:
    for name in rules.FIELDS:
        record = {key: value for key, value in CSV_RECORD.items() if key != name}
        assert rules.validate(entry(record)) == [f"missing-field:{name}"]


def test_duplicates_and_malformed_lines() -> None:
    assert rules.validate(entry(JSON_RECORD, duplicate_of=1)) == ["duplicate-order-id"]
    assert rules.validate(entry(None, error="malformed-line", raw="x,y")) == ["malformed-line"]


def test_a_record_gets_every_reason_that_applies() -> None:
    record = JSON_RECORD | {"customerId": None, "quantity": 0, "region": "mars", "orderDate": "yesterday"}
    assert rules.validate(entry(record, duplicate_of=3)) == [
        "duplicate-order-id",
        "missing-field:customerId",
        "non-positive-quantity",
        "bad-date",
        "unknown-region",
    ]
    assert rules.validate(entry(None)) == [f"missing-field:{name}" for name in rules.FIELDS]


def test_json_and_csv_normalize_to_the_same_item() -> None:
    expected = {
        "orderId": "S-1",
        "orderDate": "2026-01-02",
        "customerId": "CUST-00001",
        "productId": "P-1001",
        "region": "north",
        "quantity": 3,
        "unitPrice": Decimal("9.99"),
        "total": Decimal("29.97"),
    }
    assert rules.normalize(JSON_RECORD) == expected
    assert rules.normalize(CSV_RECORD | {"unitPrice": "9.990", "orderId": " S-1 "}) == expected


def test_prices_round_half_up_to_cents() -> None:
    normalized = rules.normalize(JSON_RECORD | {"unitPrice": "12.345", "quantity": 3})
    assert (normalized["unitPrice"], normalized["total"]) == (Decimal("12.35"), Decimal("37.05"))
    assert rules.normalize(JSON_RECORD | {"unitPrice": 0.1 + 0.2})["unitPrice"] == Decimal("0.30")


def test_normalize_refuses_an_invalid_record() -> None:
    with pytest.raises(ValueError, match="rejected for wrong-type:quantity"):
        rules.normalize(JSON_RECORD | {"quantity": "abc"})


def test_the_dynamodb_item_is_in_attribute_value_form() -> None:
    item = rules.to_dynamodb_item(rules.normalize(JSON_RECORD))
    assert item == {
        "orderId": {"S": "S-1"},
        "orderDate": {"S": "2026-01-02"},
        "customerId": {"S": "CUST-00001"},
        "productId": {"S": "P-1001"},
        "region": {"S": "north"},
        "quantity": {"N": "3"},
        "unitPrice": {"N": "9.99"},
        "total": {"N": "29.97"},
    }
    with pytest.raises(TypeError, match="unitPrice: cannot store a float"):
        rules.to_dynamodb_item({"unitPrice": 9.99})


VALUES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["S-1", "2026-01-02", "P-1001", "north", "3", "9.99", " 7 ", "1e3", "-0"])
)


@given(record=st.dictionaries(st.sampled_from(rules.FIELDS), VALUES), duplicate=st.booleans())
def test_any_record_gets_reasons_never_an_exception(record: dict[str, Any], duplicate: bool) -> None:
    reasons = rules.validate(entry(record, duplicate_of=1 if duplicate else None))
    assert len(reasons) == len(set(reasons))
    assert ("duplicate-order-id" in reasons) is duplicate


@given(
    quantity=st.integers(1, rules.MAX_QUANTITY) | st.integers(1, 10**6).map(str),
    price=st.decimals(min_value="0.005", max_value="999999999.99", allow_nan=False, places=3),
    as_text=st.booleans(),
)
def test_every_valid_record_normalizes_and_stores(quantity: int | str, price: Decimal, as_text: bool) -> None:
    record = JSON_RECORD | {"quantity": quantity, "unitPrice": str(price) if as_text else float(price)}
    assert rules.validate(entry(record)) == []
    normalized = rules.normalize(record)
    assert normalized["total"] == normalized["unitPrice"] * int(quantity)
    assert normalized["unitPrice"] > 0
    item = rules.to_dynamodb_item(normalized)
    assert Decimal(item["total"]["N"]) == normalized["total"]
    assert len(Decimal(item["total"]["N"]).as_tuple().digits) <= 38  # DynamoDB's number precision
