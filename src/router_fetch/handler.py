"""Fetches streaming-platform subscription prices for a country.

Stands in for the seed's paid web API (RapidAPI): a seeded feed, the same seed giving
the same prices, answered the way an HTTP API answers (statusCode and a JSON body as
text), so the state machine parses it with States.StringToJson as the seed does.
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
    try:
        body = feed(str(event.get("country")), int(event.get("seed", 0)))
    except ValueError as err:
        return {"statusCode": 404, "body": json.dumps({"error": str(err), "plans": []})}
    return {"statusCode": 200, "body": json.dumps(body)}
