"""Parsing sales files into entries, one per record, in file order; nothing is dropped.

Entry: {"line": n, "record": dict | None, "error": None | "malformed-line",
"raw": str | None, "duplicate_of": earlier line | None}.

- CSV: one record per physical line (\\n, \\r\\n or \\r), numbered from 1 after the
  header; values stay text. A line that is not exactly one CSV row with as many
  columns as the header (wrong count, a quote that never closes, a blank line) is
  malformed-line, with the line itself in "raw". Empty lines at the very end are not
  records. A header lacking a required column raises ValueError.
- JSON: the file must be an array (else ValueError); elements are numbered from 1, and
  one that is not an object is malformed-line, with its JSON text in "raw".

An entry whose orderId (a non-empty string, compared without surrounding spaces, as it
is stored) repeats an earlier entry's gets "duplicate_of": that earlier line.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

COLUMNS = ("orderId", "orderDate", "customerId", "productId", "region", "quantity", "unitPrice")
FORMATS = ("json", "csv")
MALFORMED = "malformed-line"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def parse(text: str, fmt: str) -> list[dict[str, Any]]:
    """Every record of a sales file as an entry, in file order (see the module docstring)."""
    if fmt == "csv":
        entries = _parse_csv(text)
    elif fmt == "json":
        entries = _parse_json(text)
    else:
        raise ValueError(f"unknown format {fmt!r}: choose {' or '.join(FORMATS)}")
    mark_duplicates(entries)
    return entries


def mark_duplicates(entries: list[dict[str, Any]]) -> None:
    """Set "duplicate_of" on every entry whose orderId an earlier entry already had."""
    first_line: dict[str, int] = {}
    for entry in entries:
        record = entry.get("record")
        order_id = record.get("orderId") if isinstance(record, dict) else None
        if not isinstance(order_id, str) or not order_id.strip():
            continue
        key = order_id.strip()
        if key in first_line:
            entry["duplicate_of"] = first_line[key]
        else:
            first_line[key] = entry["line"]


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
        _entry(i, item) if isinstance(item, dict) else _entry(i, None, json.dumps(item), MALFORMED)
        for i, item in enumerate(document, start=1)
    ]


def split_lines(text: str) -> list[str]:
    """The file's lines without their breaks; empty lines at the end are dropped.

    Only \\n, \\r\\n and \\r end a line (str.splitlines would also split on characters
    such as U+2028 inside a value, and so lose or invent records)."""
    lines = _LINE_BREAK.split(text)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _parse_csv(text: str) -> list[dict[str, Any]]:
    lines = split_lines(text)
    if not lines:
        raise ValueError("the CSV file is empty: expected a header line")
    header = _header(lines[0])
    entries = []
    for number, line in enumerate(lines[1:], start=1):
        try:
            rows = list(csv.reader(io.StringIO(line, newline=""), strict=True))
        except csv.Error:
            rows = []
        if len(rows) != 1 or len(rows[0]) != len(header):
            entries.append(_entry(number, None, line, MALFORMED))
        else:
            entries.append(_entry(number, dict(zip(header, rows[0], strict=True))))
    return entries


def _header(line: str) -> list[str]:
    try:
        rows = list(csv.reader(io.StringIO(line, newline=""), strict=True))
    except csv.Error as err:
        raise ValueError(f"the CSV header line is not valid CSV: {err}") from err
    header = [name.strip() for name in rows[0]] if len(rows) == 1 else []
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise ValueError(
            f"the CSV header lacks column(s) {', '.join(missing)}; expected a header line {','.join(COLUMNS)}"
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"the CSV header repeats column(s) {', '.join(repeated)}; each column must appear once")
    return header
