"""Parsing sales files into entries, one per record, in file order; nothing is dropped.

Entry: {"line": n, "record": dict | None, "error": None | "malformed-line",
"raw": str | None, "duplicate_of": earlier line | None}.

- CSV: the csv module's semantics, so a quoted field may hold line breaks; a record is
  numbered by the physical line it starts on, counted from 1 after the header (\\n,
  \\r\\n or \\r end a line); values stay text. A record whose quotes leave it open
  across lines is taken whole only if it is exactly one strict CSV row with as many
  columns as the header; otherwise its first line alone is malformed-line (with the
  line in "raw") and parsing goes on at the next line, so one stray quote costs one
  line. Any line that is not one such row (wrong count, a quote that never closes, a
  blank line) is malformed-line. Empty lines at the very end are not records. A header
  lacking a required column raises ValueError.
- JSON: the file must be an array (else ValueError); elements are numbered from 1, and
  one that is not an object is malformed-line, with its JSON text in "raw". An integer
  too long for Python's int() (over _MAX_INT_DIGITS digits) is kept as its text, so
  validation can reject it instead of the whole file failing.

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
_LINE = re.compile(r"([^\r\n]*)(\r\n|\r|\n|$)")
_MAX_INT_DIGITS = 4000  # below sys.get_int_max_str_digits()'s default of 4300


def _json_int(text: str) -> int | str:
    return int(text) if len(text) <= _MAX_INT_DIGITS else text


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
        document = json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as err:
        raise ValueError(f"the file is not valid JSON: {err}") from err
    if not isinstance(document, list):
        raise ValueError(f"a sales JSON file must hold an array of orders, found a {type(document).__name__}")
    return [
        _entry(i, item) if isinstance(item, dict) else _entry(i, None, json.dumps(item), MALFORMED)
        for i, item in enumerate(document, start=1)
    ]


def physical_lines(text: str) -> list[tuple[str, str]]:
    """(line, its break) for every line; empty lines at the very end are dropped.

    Only \\n, \\r\\n and \\r end a line (str.splitlines would also split on characters
    such as U+2028 inside a value, and so lose or invent records)."""
    lines = [(match[1], match[2]) for match in _LINE.finditer(text)]
    if lines and lines[-1] == ("", ""):
        lines.pop()  # finditer's empty match at the end of the text
    while lines and not lines[-1][0]:
        lines.pop()
    return lines


def _row(text: str, width: int) -> list[str] | None:
    """The one strict CSV row `text` holds, if it is one with `width` columns."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 and len(rows[0]) == width else None


def _parse_csv(text: str) -> list[dict[str, Any]]:
    lines = physical_lines(text)
    if not lines:
        raise ValueError("the CSV file is empty: expected a header line")
    header = _header(lines[0][0])
    entries = []
    start = 1
    while start < len(lines):
        # An odd count of quotes leaves a quoted field open: the record goes on at the next line.
        end, quotes = start, lines[start][0].count('"')
        while quotes % 2 and end + 1 < len(lines):
            end += 1
            quotes += lines[end][0].count('"')
        row = None
        if quotes % 2 == 0:
            record_text = "".join(line + ends for line, ends in lines[start:end]) + lines[end][0]
            row = _row(record_text, len(header))
        if row is None:
            entries.append(_entry(start, None, lines[start][0], MALFORMED))
            start += 1
        else:
            entries.append(_entry(start, dict(zip(header, row, strict=True))))
            start = end + 1
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
