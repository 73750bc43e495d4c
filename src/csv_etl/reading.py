"""Reading a CSV object as a stream (a large file never sits in memory whole) and the
file-level verdict of the validation step.

File reason codes (any one makes the whole file invalid; it is moved to error/):

    empty-file      no bytes, only blank lines, or a header without rows
    not-utf8        a byte sequence that is not UTF-8 (a leading BOM is allowed)
    malformed-csv   the CSV cannot be parsed (an unterminated quote, a NUL byte)
    wrong-header    the header is not exactly the declared columns, in order
    truncated-rows  rows with fewer fields than the header (a cut-off upload or export)
    extra-fields    rows with more fields than the header (an unquoted delimiter)
    too-many-rows   more rows than MAX_ROWS
    bad-types       more than half the values of a typed column are not of its type
    no-valid-rows   every row would be rejected

Bad values in a minority of rows do not reject the file: those rows are rejected one by
one (schema.row_reasons) and reported, and the others are loaded.
"""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from schema import COLUMNS, TYPED, TYPES, RowJudge, has_type

LISTED_LINES = 10  # line numbers named in a reason; the count is always complete


class NotUtf8(ValueError):
    def __init__(self, offset: int, detail: str) -> None:
        super().__init__(f"byte {offset} is not UTF-8 ({detail})")
        self.offset = offset


class MalformedCsv(ValueError):
    pass


def text_lines(chunks: Iterable[bytes], offset: int = 0, keep_bom: bool = False) -> Iterator[str]:
    """Decoded lines (with their line ends) of a UTF-8 byte stream that starts at byte
    `offset` of the file; raises NotUtf8. A BOM at the file's start is dropped unless
    `keep_bom` (then each line re-encodes to exactly its bytes)."""
    codec = "utf-8-sig" if offset == 0 and not keep_bom else "utf-8"
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    pending = ""
    for chunk in chunks:
        try:
            pending += decoder.decode(chunk)
        except UnicodeDecodeError as err:
            raise NotUtf8(offset + err.start, err.reason) from None
        offset += len(chunk)
        parts = pending.split("\n")
        pending = parts.pop()
        yield from (part + "\n" for part in parts)
    try:
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError as err:
        raise NotUtf8(offset + err.start, err.reason) from None
    if pending:
        yield pending


def records(chunks: Iterable[bytes]) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of every non-blank CSV record, the header first."""
    reader = csv.reader(text_lines(chunks), strict=True)
    try:
        for fields in reader:
            if fields and any(field.strip() for field in fields):
                yield reader.line_num, fields
    except csv.Error as err:
        raise MalformedCsv(f"line {reader.line_num}: {err}") from None


class Position:
    """Where a record stream has got to: the byte just after the last record read, and
    that record's last physical line (what a load resumes from)."""

    def __init__(self, offset: int = 0, line: int = 0) -> None:
        self.offset = offset
        self.line = line


def positioned_records(chunks: Iterable[bytes], position: Position) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of every non-blank record from `position` on (the header first when
    that is the file's start), with the file's line numbers as `records` gives them;
    `position` moves to the end of each record before it is yielded."""
    start_offset, start_line = position.offset, position.line
    consumed = start_offset

    def counted() -> Iterator[str]:
        nonlocal consumed
        at_file_start = start_offset == 0
        for line in text_lines(chunks, start_offset, keep_bom=True):
            consumed += len(line.encode())  # valid UTF-8 re-encodes to exactly its bytes
            yield line.removeprefix("\ufeff") if at_file_start else line  # a BOM only at the file's start
            at_file_start = False

    reader = csv.reader(counted(), strict=True)
    try:
        for fields in reader:
            # The reader never reads past the end of a record: `consumed` is where this one ends.
            position.offset, position.line = consumed, start_line + reader.line_num
            if fields and any(field.strip() for field in fields):
                yield position.line, fields
    except csv.Error as err:
        raise MalformedCsv(f"line {start_line + reader.line_num}: {err}") from None


def header_problem(fields: list[str]) -> str | None:
    names = tuple(field.strip() for field in fields)
    if names == COLUMNS:
        return None
    return f"expected {','.join(COLUMNS)}; saw {','.join(names)}"


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(line) for line in lines[:LISTED_LINES])
    return shown + (f" and {len(lines) - LISTED_LINES} more" if len(lines) > LISTED_LINES else "")


def check_file(chunks: Iterable[bytes], max_rows: int) -> dict[str, Any]:
    """The verdict on one file: valid or not, the reasons, and its row counts."""
    size = 0

    def counted() -> Iterator[bytes]:
        nonlocal size
        for chunk in chunks:
            size += len(chunk)
            yield chunk

    reasons: list[dict[str, str]] = []
    rows = rejected = 0
    short: list[int] = []
    long: list[int] = []
    type_failures: Counter[str] = Counter()
    try:
        stream = records(counted())
        header = next(stream, None)
        if header is None:
            detail = "the file has no bytes" if size == 0 else "the file holds only blank lines"
            return verdict([{"code": "empty-file", "detail": detail}], 0, 0)
        problem = header_problem(header[1])
        if problem:
            return verdict([{"code": "wrong-header", "detail": problem}], 0, 0)
        judge = RowJudge()
        for line, fields in stream:
            rows += 1
            if len(fields) != len(COLUMNS):
                (short if len(fields) < len(COLUMNS) else long).append(line)
                continue
            values = dict(zip(COLUMNS, fields, strict=True))
            for column in TYPED:
                value = values[column].strip()
                if value and not has_type(column, value):
                    type_failures[column] += 1
            if judge.judge(line, values):
                rejected += 1
    except NotUtf8 as err:
        return verdict([{"code": "not-utf8", "detail": str(err)}], 0, 0)
    except MalformedCsv as err:
        return verdict([{"code": "malformed-csv", "detail": str(err)}], 0, 0)
    if rows == 0:
        reasons.append({"code": "empty-file", "detail": "a header and no rows"})
    if short:
        detail = f"{len(short)} row(s) with fewer than {len(COLUMNS)} fields, line(s) {_lines(short)}"
        reasons.append({"code": "truncated-rows", "detail": detail})
    if long:
        detail = f"{len(long)} row(s) with more than {len(COLUMNS)} fields, line(s) {_lines(long)}"
        reasons.append({"code": "extra-fields", "detail": detail})
    if rows > max_rows:
        reasons.append({"code": "too-many-rows", "detail": f"{rows} rows, at most {max_rows} are accepted"})
    for column in TYPED:
        if type_failures[column] * 2 > rows:
            detail = f"{column}: {type_failures[column]} of {rows} values are not of type {TYPES[column]}"
            reasons.append({"code": "bad-types", "detail": detail})
    if not reasons and rejected == rows:
        reasons.append({"code": "no-valid-rows", "detail": f"all {rows} rows would be rejected"})
    return verdict(reasons, rows, rejected)


def verdict(reasons: list[dict[str, str]], rows: int, rejected: int) -> dict[str, Any]:
    return {
        "valid": not reasons,
        "reasons": reasons,
        "codes": sorted({reason["code"] for reason in reasons}),
        "rows": rows,
        "rejected": rejected,
        "loadable": 0 if reasons else rows - rejected,
    }
