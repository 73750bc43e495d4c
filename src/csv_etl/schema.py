"""The declared schema of the sales-transactions CSV, the checks of one row, and the
transform of a staged row into a target row (the second ETL step).

A file must have exactly the header `COLUMNS`, in this order. Row reason codes (a row
gets every one that applies; the first row of a transaction id wins over later ones):

    missing-value:<column>    an empty cell
    bad-type:<column>         not an ISO date / integer / money amount / identifier
    non-positive-quantity     quantity <= 0
    non-positive-price        unit_price <= 0
    unknown-currency          not one of CURRENCIES (case and spaces are ignored)
    duplicate-transaction-id  the id was already loaded from an earlier line

A cell that is absent or null (a short row as csv.DictReader gives it) is a missing
value, one that is not text a bad type: `row_reasons` never raises.

Target rows are typed: quantity an integer, money as Decimal with two places, the
currency upper case, text trimmed with inner runs of spaces collapsed; derived columns
are `amount` (quantity x unit_price), `amount_usd` (at the fixed RATES_TO_USD) and
`month` (YYYY-MM). The target key is the transaction id, so loading a file again
replaces its rows instead of adding copies.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

COLUMNS = ("transaction_id", "date", "store", "product", "quantity", "unit_price", "currency")
TYPES = {
    "transaction_id": "id",
    "date": "date",
    "store": "text",
    "product": "text",
    "quantity": "integer",
    "unit_price": "money",
    "currency": "text",
}
# Columns whose values have a machine type: a file where most values of one of them do
# not parse has the wrong schema (columns shifted, another export format), not bad rows.
TYPED = ("date", "quantity", "unit_price")
# Fixed reference rates (a stand-in for the dimension table a warehouse would join).
RATES_TO_USD = {
    "USD": Decimal("1"),
    "EUR": Decimal("1.08"),
    "GBP": Decimal("1.27"),
    "SEK": Decimal("0.095"),
    "CHF": Decimal("1.12"),
    "BRL": Decimal("0.18"),
}
CURRENCIES = tuple(RATES_TO_USD)
CENT = Decimal("0.01")

_PATTERNS = {
    "id": re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"),
    "date": re.compile(r"\d{4}-\d{2}-\d{2}"),
    "integer": re.compile(r"[+-]?\d{1,9}"),
    "money": re.compile(r"[+-]?\d{1,12}(\.\d{1,2})?"),
}


def has_type(column: str, value: str) -> bool:
    """Whether a non-empty `value` is of `column`'s declared type."""
    kind = TYPES[column]
    pattern = _PATTERNS.get(kind)
    if pattern is None:
        return True
    if not pattern.fullmatch(value):
        return False
    if kind == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
    return True


def clean(value: str) -> str:
    return " ".join(value.split())


def row_reasons(fields: dict[str, str]) -> list[str]:
    """Every reason to reject one row (duplicates aside); empty means the row is good."""
    reasons: list[str] = []
    raw = {column: fields.get(column) for column in COLUMNS}
    values = {column: value.strip() if isinstance(value, str) else "" for column, value in raw.items()}
    for column in COLUMNS:
        if raw[column] is not None and not isinstance(raw[column], str):
            reasons.append(f"bad-type:{column}")
        elif not values[column]:
            reasons.append(f"missing-value:{column}")
        elif not has_type(column, values[column]):
            reasons.append(f"bad-type:{column}")
    if not _failed("quantity", reasons) and int(values["quantity"]) <= 0:
        reasons.append("non-positive-quantity")
    if not _failed("unit_price", reasons) and Decimal(values["unit_price"]) <= 0:
        reasons.append("non-positive-price")
    if not _failed("currency", reasons) and values["currency"].upper() not in RATES_TO_USD:
        reasons.append("unknown-currency")
    return reasons


def _failed(column: str, reasons: list[str]) -> bool:
    return f"missing-value:{column}" in reasons or f"bad-type:{column}" in reasons


class RowJudge:
    """Judges the rows of one file in order, remembering the transaction ids it kept."""

    def __init__(self) -> None:
        self.first_line: dict[str, int] = {}

    def judge(self, line: int, fields: dict[str, str]) -> list[str]:
        reasons = row_reasons(fields)
        if reasons:
            return reasons
        transaction = fields["transaction_id"].strip()
        if transaction in self.first_line:
            return ["duplicate-transaction-id"]
        self.first_line[transaction] = line
        return []


def transform(fields: dict[str, str]) -> dict[str, Any]:
    """The typed target row of a good staged row (values as str, int and Decimal)."""
    quantity = int(fields["quantity"].strip())
    unit_price = Decimal(fields["unit_price"].strip()).quantize(CENT)
    currency = fields["currency"].strip().upper()
    amount = (unit_price * quantity).quantize(CENT, rounding=ROUND_HALF_UP)
    day = fields["date"].strip()
    return {
        "transaction_id": fields["transaction_id"].strip(),
        "date": day,
        "month": day[:7],
        "store": clean(fields["store"]),
        "product": clean(fields["product"]),
        "quantity": quantity,
        "unit_price": unit_price,
        "currency": currency,
        "amount": amount,
        "amount_usd": (amount * RATES_TO_USD[currency]).quantize(CENT, rounding=ROUND_HALF_UP),
    }
