"""Raw subscription files, JSON lines or CSV with a header, read one physical line per row.

Reading line by line keeps a broken line (truncated JSON, an unclosed quote, a wrong
number of cells) to itself: it becomes one malformed row, the lines after it still count.
"""

from __future__ import annotations

import csv
import json
from typing import Any

Row = tuple[int, dict[str, Any] | None, str]  # (line number, the row or None when malformed, the raw line)


def file_format(key: str) -> str:
    """`csv` for a `.csv` key, `jsonl` otherwise."""
    return "csv" if key.lower().endswith(".csv") else "jsonl"


def read_rows(text: str, fmt: str = "jsonl") -> list[Row]:
    """Every non-blank line of `text` (after the CSV header line) as a row, by line number."""
    if fmt == "csv":
        return _csv_rows(text)
    if fmt != "jsonl":
        raise ValueError(f"unknown raw format {fmt!r}: jsonl or csv")
    rows: list[Row] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            rows.append((number, _json_object(line), line))
    return rows


def _json_object(line: str) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    return row if isinstance(row, dict) else None


def _csv_rows(text: str) -> list[Row]:
    lines = text.splitlines()
    if not lines:
        return []
    header = [name.strip() for name in _cells(lines[0]) or []]
    if not header or len(set(header)) != len(header):
        raise ValueError(f"the CSV header line {lines[0]!r} must name each column once")
    rows: list[Row] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = _cells(line)
        row = dict(zip(header, cells, strict=True)) if cells is not None and len(cells) == len(header) else None
        rows.append((number, row, line))
    return rows


def _cells(line: str) -> list[str] | None:
    try:
        return next(csv.reader([line], strict=True))
    except (csv.Error, StopIteration):
        return None
