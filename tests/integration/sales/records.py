"""Generated sales records with order ids unique to one test, so files never share ids by accident."""

from __future__ import annotations

import uuid
from dataclasses import replace

from serverless_testbed.records import Expected, Generated

from fixtures.sales import MALFORMED, generate_sales


def unique_sales(records: int, invalid_rate: float, seed: int) -> list[Generated]:
    """`generate_sales(...)` with every order id (also inside malformed lines) made unique to this call."""
    tag = f"S-{uuid.uuid4().hex[:8]}-"
    stem = f"S-{seed}-"
    out: list[Generated] = []
    for item in generate_sales(records, invalid_rate, seed):
        record = dict(item.record)
        if MALFORMED in record:
            record[MALFORMED] = str(record[MALFORMED]).replace(stem, tag)
        elif isinstance(record.get("orderId"), str):
            record["orderId"] = record["orderId"].replace(stem, tag, 1)
        out.append(replace(item, record=record))
    return out


def spoil(generated: list[Generated], line: int, field: str, value: object, reason: str) -> list[Generated]:
    """A copy with record `line` (1-based) given `value` for `field`, expected rejected for `reason`."""
    out = list(generated)
    record = {**out[line - 1].record, field: value}
    out[line - 1] = Generated(record, Expected(False, (reason,)))
    return out
