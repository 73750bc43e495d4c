"""Curating raw subscription rows (a Glue job's work, as a Lambda): types, currency, derived columns.

A row is rejected with every reason that applies: missing-field:<name>,
wrong-type:<name> (subscriptionId or platform not text or a whole number; text that is
not valid Unicode), unknown-country, unknown-currency, bad-price (not a finite number,
or MAX_PRICE or more), non-positive-price, unknown-plan. `check` never raises, whatever
a value holds (numbers of any length, NaN, nested objects, null).
Currency codes are normalised (surrounding space dropped, upper case: " eur" -> "EUR")
before they are looked up; plans are lower-cased. Curated rows carry the price in USD
(fixed rate table) and a price tier.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

FIELDS = ("subscriptionId", "country", "platform", "plan", "price", "currency")
COUNTRIES = ("US", "GB", "DE", "FR", "IN", "JP", "BR", "CA")
PLANS = ("basic", "standard", "premium")
USD_PER_UNIT = {
    "USD": Decimal("1"),
    "GBP": Decimal("1.27"),
    "EUR": Decimal("1.09"),
    "INR": Decimal("0.012"),
    "JPY": Decimal("0.0067"),
    "BRL": Decimal("0.20"),
    "CAD": Decimal("0.74"),
}
TIERS = ((Decimal("8"), "budget"), (Decimal("15"), "standard"))  # below the bound -> tier; else premium
CENT = Decimal("0.01")
MAX_PRICE = Decimal(10) ** 12  # beyond any subscription, and beyond what the USD column holds exactly


def check(row: dict[str, Any]) -> list[str]:
    """Every reason to reject `row`; empty means `curate` takes it."""
    reasons = [f"missing-field:{name}" for name in FIELDS if row.get(name) in (None, "")]
    reasons.extend(
        f"wrong-type:{name}"
        for name in ("subscriptionId", "platform")
        if row.get(name) not in (None, "") and _text(row[name]) is None
    )
    if row.get("country") not in (None, "") and row["country"] not in COUNTRIES:
        reasons.append("unknown-country")
    if row.get("currency") not in (None, "") and currency_code(row["currency"]) not in USD_PER_UNIT:
        reasons.append("unknown-currency")
    if row.get("plan") not in (None, "") and (not isinstance(row["plan"], str) or row["plan"].lower() not in PLANS):
        reasons.append("unknown-plan")
    if row.get("price") not in (None, ""):
        price = _decimal(row["price"])
        if price is None or price >= MAX_PRICE:
            reasons.append("bad-price")
        elif price <= 0:
            reasons.append("non-positive-price")
    return reasons


def curate(row: dict[str, Any]) -> dict[str, Any]:
    """A valid row, typed and enriched."""
    price = _decimal(row["price"])
    if price is None:
        raise ValueError(f"curate() takes valid rows only, got {row!r}")
    currency = currency_code(row["currency"])
    usd = (price * USD_PER_UNIT[currency]).quantize(CENT, rounding=ROUND_HALF_UP)
    tier = next((name for bound, name in TIERS if usd < bound), "premium")
    return {
        "subscriptionId": str(_text(row["subscriptionId"])),
        "country": row["country"],
        "platform": str(_text(row["platform"])).strip(),
        "plan": str(row["plan"]).lower(),
        "price": str(price.quantize(CENT, rounding=ROUND_HALF_UP)),
        "currency": currency,
        "priceUsd": str(usd),
        "tier": tier,
    }


def currency_code(value: Any) -> str:
    """An ISO 4217 code as the rate table spells it ("" for a value that is not text)."""
    return value.strip().upper() if isinstance(value, str) else ""


def _text(value: Any) -> str | None:
    """A text value as it is stored: text (valid Unicode) as it is, a whole number as its digits."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**18:
        return str(value)
    return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        # Decimal takes an int directly: str() of a very long one raises ValueError.
        number = Decimal(value) if isinstance(value, int) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None
