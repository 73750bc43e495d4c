"""Parsing sales files into entries, one per record, in file order; nothing is dropped.

Entry: {"line": n, "record": dict | None, "error": None | "malformed-line",
"raw": str | None, "duplicate_of": earlier line | None}. CSV lines are numbered
from 1 after the header; JSON elements from 1.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

COLUMNS = ("orderId", "orderDate", "customerId", "productId", "region", "quantity", "unitPrice")


def parse(text: str, fmt: str) -> list[dict[str, Any]]:
    entries = _parse_csv(text) if fmt == "csv" else _parse_json(text)
    first_line: dict[str, int] = {}
    for entry in entries:
        record = entry.get("record")
        order_id = record.get("orderId") if isinstance(record, dict) else None
        if isinstance(order_id, str | int) and order_id != "":
            key = str(order_id)
            if key in first_line:
                entry["duplicate_of"] = first_line[key]
            else:
                first_line[key] = entry["line"]
    return entries


def _entry(
    line: int, record: dict[str, Any] | None, raw: str | None = None, error: str | None = None
) -> dict[str, Any]:
    return {"line": line, "record": record, "error": error, "raw": raw, "duplicate_of": None}


def _parse_json(text: str) -> list[dict[str, Any]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"the file is not valid JSON: {err}") from err
    if not isinstance(document, list):
        raise ValueError(f"a sales JSON file must hold an array of orders, found a {type(document).__name__}")
    return [
        _entry(i, item) if isinstance(item, dict) else _entry(i, None, json.dumps(item), "malformed-line")
        for i, item in enumerate(document, start=1)
    ]


def _parse_csv(text: str) -> list[dict[str, Any]]:
    lines = text.splitlines()
    if not lines:
        raise ValueError("the CSV file is empty: expected a header line")
    header = next(csv.reader([lines[0]]))
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise ValueError(f"the CSV header lacks column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}")
    entries = []
    for number, line in enumerate(lines[1:], start=1):
        try:
            rows = list(csv.reader(io.StringIO(line), strict=True))
        except csv.Error:
            rows = []
        if len(rows) != 1 or len(rows[0]) != len(header):
            entries.append(_entry(number, None, line, "malformed-line"))
            continue
        entries.append(_entry(number, dict(zip(header, rows[0], strict=True))))
    return entries
