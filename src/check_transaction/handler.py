"""Checks an order's card transaction; the decision comes from the data (see rules.py)."""

from __future__ import annotations

import json
import logging
from typing import Any

from rules import check

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    approved, reasons = check(event)
    LOG.info(json.dumps({"orderID": event.get("orderID"), "approved": approved, "reasons": reasons}))
    return {"orderID": event.get("orderID"), "approved": approved, "reasons": reasons}
