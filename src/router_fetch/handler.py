"""Fetches streaming-platform subscription prices for a country.

Stands in for a paid web API (RapidAPI): a seeded feed, the same seed giving
the same prices, answered the way an HTTP API answers (statusCode and a JSON body as
text), so the state machine parses it with States.StringToJson as the seed does. The
Random is seeded by country and seed (Faker is not in a Lambda's standard library):
200 with the plans, 404 for a country the feed does not cover, 400 for a seed that is
not a whole number.
"""

from __future__ import annotations

import json
import random
from typing import Any

PLATFORMS = ("Netflix", "Disney+", "Prime Video", "Apple TV+", "Max")
PLANS = ("basic", "standard", "premium")
CURRENCIES = {"US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "IN": "INR", "JP": "JPY", "BR": "BRL", "CA": "CAD"}
BASE_USD = {"basic": 6.99, "standard": 12.99, "premium": 19.99}
RATES = {"USD": 1.0, "GBP": 0.79, "EUR": 0.92, "INR": 83.0, "JPY": 150.0, "BRL": 5.0, "CAD": 1.36}


def feed(country: str, seed: int) -> dict[str, Any]:
    if country not in CURRENCIES:
        raise ValueError(f"no subscription data for country {country!r}; known: {', '.join(sorted(CURRENCIES))}")
    rng = random.Random(f"{country}:{seed}")
    currency = CURRENCIES[country]
    plans = [
        {
            "platform": platform,
            "plan": plan,
            "price": round(BASE_USD[plan] * rng.uniform(0.7, 1.3) * RATES[currency], 2),
            "currency": currency,
        }
        for platform in PLATFORMS
        for plan in PLANS
    ]
    return {"country": country, "seed": seed, "plans": plans}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seed = _whole_number(event.get("seed", 0))
    if seed is None:
        return _answer(400, {"error": f"seed must be a whole number, got {event.get('seed')!r}", "plans": []})
    try:
        body = feed(str(event.get("country")), seed)
    except ValueError as err:
        return _answer(404, {"error": str(err), "plans": []})
    return _answer(200, body)


def _whole_number(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "body": json.dumps(body)}
