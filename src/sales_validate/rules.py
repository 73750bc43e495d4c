"""Sales order validation: every reason a parsed entry is rejected for.

Reason codes (a record gets every one that applies, in this order):

- malformed-line: the parser could not read the line or element (no other reason then)
- duplicate-order-id: an earlier entry of the file has the same orderId
- missing-field:<name>: absent, null, or empty/blank text
- wrong-type:<name>: orderId, orderDate, customerId, productId, region not text;
  quantity not an integer (JSON int or text such as "3"); unitPrice not a finite number
  (JSON number or text such as "9.99"; NaN and Infinity are not); text that is not valid
  Unicode (a lone surrogate from a JSON escape cannot be stored)
- out-of-range:<name>: quantity above MAX_QUANTITY or unitPrice at or above MAX_PRICE
  (beyond what an order holds, and beyond what the stored total could carry exactly), or
  a text field longer than MAX_TEXT characters (orderId is the table's key, which DynamoDB
  caps at 2,048 bytes; no catalog check is made on such a value)
- non-positive-quantity, non-positive-price (the price as stored, rounded to cents)
- bad-date: orderDate is not a real YYYY-MM-DD date
- unknown-product, unknown-region: not in PRODUCTS, REGIONS (exact match)

CSV gives every value as text, JSON as text or numbers; both validate and normalize alike.
`validate` never raises: any value of any size or shape gets reasons (numbers of any
length, nested objects where scalars belong, null anywhere, an entry that is not a dict).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

FIELDS = ("orderId", "orderDate", "customerId", "productId", "region", "quantity", "unitPrice")
TEXT_FIELDS = ("orderId", "orderDate", "customerId", "productId", "region")
PRODUCTS = ("P-1001", "P-1002", "P-1003", "P-2001", "P-2002", "P-3001", "P-3002", "P-4001")
REGIONS = ("north", "south", "east", "west", "central")
MAX_QUANTITY = 1_000_000
MAX_PRICE = Decimal(10) ** 9
MAX_TEXT = 256
# More digits than this is out of range whatever they are: int() of a long string is slow
# and refused beyond sys.get_int_max_str_digits(), so it is never attempted.
_MAX_DIGITS = 20
CENT = Decimal("0.01")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _integer(value: Any) -> int | None:
    """The integer a JSON int or a text of ASCII digits holds; one with more than _MAX_DIGITS
    significant digits comes back as +-10**_MAX_DIGITS (its sign is all a range check needs)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or not _INTEGER.fullmatch(value.strip()):
        return None
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-").lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:
        return sign * 10**_MAX_DIGITS
    return sign * int(digits)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, int) and abs(value) >= 10**_MAX_DIGITS:
        return Decimal(10**_MAX_DIGITS) * (1 if value > 0 else -1)  # str() of a huge int may be refused
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _text_problem(name: str, value: str) -> str | None:
    """The reason a text value cannot be stored as it is, if any."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"wrong-type:{name}"
    if len(value.strip()) > MAX_TEXT:
        return f"out-of-range:{name}"
    return None


def _cents(price: Decimal) -> Decimal:
    return price.quantize(CENT, rounding=ROUND_HALF_UP)


def _real_date(value: str) -> bool:
    if not _ISO_DATE.fullmatch(value.strip()):
        return False
    try:
        date.fromisoformat(value.strip())
    except ValueError:
        return False
    return True


def validate(entry: dict[str, Any]) -> list[str]:
    """The reasons to reject a parse entry; an empty list means valid. Never raises."""
    if not isinstance(entry, dict):
        return ["malformed-line"]
    if entry.get("error"):
        error = entry["error"]
        return [error[:MAX_TEXT] if isinstance(error, str) else "malformed-line"]
    reasons: list[str] = []
    if entry.get("duplicate_of"):
        reasons.append("duplicate-order-id")
    record = entry.get("record")
    if not isinstance(record, dict):
        record = {}
    present = {name: record.get(name) for name in FIELDS if not _missing(record.get(name))}
    reasons.extend(f"missing-field:{name}" for name in FIELDS if name not in present)
    unusable: set[str] = set()  # text fields already rejected: no catalog or date check on them
    for name in TEXT_FIELDS:
        value = present.get(name)
        problem = f"wrong-type:{name}" if not isinstance(value, str) else _text_problem(name, value)
        if name in present and problem:
            reasons.append(problem)
            unusable.add(name)
    if "quantity" in present:
        quantity = _integer(present["quantity"])
        if quantity is None:
            reasons.append("wrong-type:quantity")
        elif quantity <= 0:
            reasons.append("non-positive-quantity")
        elif quantity > MAX_QUANTITY:
            reasons.append("out-of-range:quantity")
    if "unitPrice" in present:
        price = _decimal(present["unitPrice"])
        if price is None:
            reasons.append("wrong-type:unitPrice")
        elif price <= 0 or (price < MAX_PRICE and _cents(price) <= 0):
            reasons.append("non-positive-price")
        elif price >= MAX_PRICE:
            reasons.append("out-of-range:unitPrice")
    usable = {name: value for name, value in present.items() if name not in unusable}
    order_date, product, region = usable.get("orderDate"), usable.get("productId"), usable.get("region")
    if isinstance(order_date, str) and not _real_date(order_date):
        reasons.append("bad-date")
    if isinstance(product, str) and product.strip() not in PRODUCTS:
        reasons.append("unknown-product")
    if isinstance(region, str) and region.strip() not in REGIONS:
        reasons.append("unknown-region")
    return reasons


def normalize(record: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a valid record; JSON and CSV give the same result.

    Text fields without surrounding spaces, quantity an int, unitPrice and
    total = quantity * unitPrice as Decimal with 2 decimals (half up): DynamoDB numbers,
    never floats. Raises ValueError for a record `validate` would reject.
    """
    reasons = validate({"record": record})
    if reasons:
        raise ValueError(f"normalize() takes valid records only; this one is rejected for {', '.join(reasons)}")
    quantity = _integer(record["quantity"])
    price = _decimal(record["unitPrice"])
    if quantity is None or price is None:  # unreachable: validate() checked both
        raise ValueError(f"normalize() cannot read quantity or unitPrice of {record!r}")
    price = _cents(price)
    return {
        **{name: str(record[name]).strip() for name in TEXT_FIELDS},
        "quantity": quantity,
        "unitPrice": price,
        "total": (price * quantity).quantize(CENT),
    }


def to_dynamodb_item(normalized: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The item in DynamoDB's low-level attribute-value form: {"quantity": {"N": "3"}, ...}."""
    item: dict[str, dict[str, str]] = {}
    for key, value in normalized.items():
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise TypeError(f"{key}: cannot store a {type(value).__name__} (expected str, int or Decimal)")
        item[key] = {"S": value} if isinstance(value, str) else {"N": str(value)}
    return item
