"""Card transaction rules: approved or declined is decided by the order's data alone.

Decline reasons, in the order `check` reports them:

- card-number-invalid: the card number is not 12-19 digits passing the Luhn check
- card-expiry-unreadable: the expiry is missing or not MM/YY with a month 01-12
- order-date-unreadable: no ISO orderDate in the order (and no `today` given)
- card-expired: the card expired before the month of the order date
- amount-invalid: the order or transaction amount, or the card limit, is missing or
  not a number (amounts must be > 0, the limit >= 0)
- amount-mismatch: the transaction charges a different amount than the order's
- amount-over-limit: the charged amount is above the card's limit

Amounts are decimal strings ("149.70"); numbers are accepted too. The charged amount
is the transaction's `amount`, or the order's when the transaction carries none.
`check` never raises: an order that is not an object, values of any size or shape
(a 5,000-digit number, NaN, a nested object) decline with the reasons above.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

EXPIRY = re.compile(r"(0[1-9]|1[0-2])/([0-9]{2})")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DIGITS = frozenset("0123456789")


def luhn_valid(number: str) -> bool:
    """Whether `number` (digits, spaces allowed between them) passes the Luhn check."""
    digits = number.replace(" ", "")
    if not 12 <= len(digits) <= 19 or not set(digits) <= DIGITS:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def expiry_month(expiry: Any) -> tuple[int, int] | None:
    """(year, month) of an MM/YY expiry, or None when it is not one."""
    match = EXPIRY.fullmatch(expiry) if isinstance(expiry, str) else None
    return (2000 + int(match[2]), int(match[1])) if match else None


def iso_date(value: Any) -> date | None:
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def expired(expiry: str, order_date: str) -> bool:
    """`expiry` is MM/YY; a card is valid through the end of that month."""
    card, ordered = expiry_month(expiry), iso_date(order_date)
    if card is None or ordered is None:
        raise ValueError(f"cannot compare expiry {expiry!r} with order date {order_date!r}")
    return card < (ordered.year, ordered.month)


def _card_text(value: Any) -> str:
    """A card number as text: digits given as a JSON number count too (str() of an int
    longer than any card number is never attempted: Python refuses very long ones)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**19:
        return str(value)
    return ""


def _amount(value: Any, minimum: Decimal, inclusive: bool) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        # Decimal takes an int directly: str() of a very long one raises ValueError.
        number = Decimal(value) if isinstance(value, int) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    return number if number > minimum or (inclusive and number == minimum) else None


def check(order: dict[str, Any], today: str | None = None) -> tuple[bool, list[str]]:
    """(approved, decline reasons) for `order`; missing or unreadable data declines too.

    Expiry is compared with the order's own `orderDate`, so the verdict never depends on
    the wall clock; `today` (ISO date) is used only for an order that carries no date.
    """
    if not isinstance(order, dict):
        order = {}
    transaction = order.get("transaction")
    if not isinstance(transaction, dict):
        transaction = {}
    reasons: list[str] = []
    if not luhn_valid(_card_text(transaction.get("cardNumber", ""))):
        reasons.append("card-number-invalid")
    card = expiry_month(transaction.get("expiry"))
    ordered = iso_date(order.get("orderDate") or today)
    if card is None:
        reasons.append("card-expiry-unreadable")
    if ordered is None:
        reasons.append("order-date-unreadable")
    if card is not None and ordered is not None and card < (ordered.year, ordered.month):
        reasons.append("card-expired")
    amount = _amount(order.get("amount"), Decimal(0), inclusive=False)
    charged = _amount(transaction.get("amount", order.get("amount")), Decimal(0), inclusive=False)
    limit = _amount(transaction.get("limit"), Decimal(0), inclusive=True)
    if amount is None or charged is None or limit is None:
        reasons.append("amount-invalid")
    else:
        if charged != amount:
            reasons.append("amount-mismatch")
        if charged > limit:
            reasons.append("amount-over-limit")
    return not reasons, reasons
