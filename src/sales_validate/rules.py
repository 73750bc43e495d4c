"""Sales order validation: every reason a parsed entry is rejected for.

Reason codes: malformed-line, duplicate-order-id, missing-field:<name>,
wrong-type:<name>, non-positive-quantity, non-positive-price, bad-date,
unknown-product, unknown-region. A record gets every reason that applies.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

FIELDS = ("orderId", "orderDate", "customerId", "productId", "region", "quantity", "unitPrice")
PRODUCTS = ("P-1001", "P-1002", "P-1003", "P-2001", "P-2002", "P-3001", "P-3002", "P-4001")
REGIONS = ("north", "south", "east", "west", "central")


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def validate(entry: dict[str, Any]) -> list[str]:
    """The reasons to reject a parse entry; an empty list means valid."""
    if entry.get("error"):
        return [str(entry["error"])]
    reasons: list[str] = []
    if entry.get("duplicate_of"):
        reasons.append("duplicate-order-id")
    record = entry.get("record") or {}
    for name in FIELDS:
        if record.get(name) in (None, ""):
            reasons.append(f"missing-field:{name}")
    for name in ("orderId", "customerId", "productId", "region", "orderDate"):
        if record.get(name) not in (None, "") and not isinstance(record[name], str):
            reasons.append(f"wrong-type:{name}")
    if record.get("quantity") not in (None, ""):
        quantity = _integer(record["quantity"])
        if quantity is None:
            reasons.append("wrong-type:quantity")
        elif quantity <= 0:
            reasons.append("non-positive-quantity")
    if record.get("unitPrice") not in (None, ""):
        price = _decimal(record["unitPrice"])
        if price is None:
            reasons.append("wrong-type:unitPrice")
        elif price <= 0:
            reasons.append("non-positive-price")
    if isinstance(record.get("orderDate"), str) and record["orderDate"]:
        try:
            date.fromisoformat(record["orderDate"])
        except ValueError:
            reasons.append("bad-date")
    if isinstance(record.get("productId"), str) and record["productId"] and record["productId"] not in PRODUCTS:
        reasons.append("unknown-product")
    if isinstance(record.get("region"), str) and record["region"] and record["region"] not in REGIONS:
        reasons.append("unknown-region")
    return reasons


def normalize(record: dict[str, Any]) -> dict[str, Any]:
    """A valid record with typed values (JSON and CSV give the same result)."""
    quantity = _integer(record["quantity"])
    price = _decimal(record["unitPrice"])
    if quantity is None or price is None:
        raise ValueError(f"normalize() takes valid records only, got {record!r}")
    price = price.quantize(Decimal("0.01"))
    return {
        "orderId": record["orderId"],
        "orderDate": record["orderDate"],
        "customerId": record["customerId"],
        "productId": record["productId"],
        "region": record["region"],
        "quantity": quantity,
        "unitPrice": price,
        "total": (price * quantity).quantize(Decimal("0.01")),
    }


def to_dynamodb_item(normalized: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The item in DynamoDB's attribute-value form (numbers as N strings)."""
    return {
        key: {"N": str(value)} if isinstance(value, int | Decimal) else {"S": str(value)}
        for key, value in normalized.items()
    }
