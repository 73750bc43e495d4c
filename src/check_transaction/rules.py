"""Card transaction rules: approved or declined is decided by the order's data alone.

Declined when the card number fails the Luhn check, when the card expired before the
order date, or when the amount is above the card's available limit.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    if len(digits) < 12 or len(digits) != len(number.replace(" ", "")):
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def expired(expiry: str, order_date: str) -> bool:
    """`expiry` is MM/YY; a card is valid through the end of that month."""
    month, year = (int(part) for part in expiry.split("/"))
    order_year, order_month = int(order_date[0:4]), int(order_date[5:7])
    return (2000 + year, month) < (order_year, order_month)


def check(order: dict[str, Any]) -> tuple[bool, list[str]]:
    """(approved, decline reasons) for `order`; missing data is a decline reason too."""
    transaction = order.get("transaction") or {}
    reasons: list[str] = []
    if not luhn_valid(str(transaction.get("cardNumber", ""))):
        reasons.append("card-number-invalid")
    try:
        if expired(str(transaction["expiry"]), str(order["orderDate"])):
            reasons.append("card-expired")
    except (KeyError, ValueError):
        reasons.append("card-expiry-unreadable")
    try:
        if Decimal(str(order["amount"])) > Decimal(str(transaction["limit"])):
            reasons.append("amount-over-limit")
    except (KeyError, InvalidOperation):
        reasons.append("amount-unreadable")
    return not reasons, reasons
