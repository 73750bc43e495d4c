"""Workflow 2's parser (src/sales_parse/parsing.py): one entry per record, in order, nothing lost."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from serverless_testbed.lambda_code import load

parsing = load("sales_parse", "parsing")

HEADER = ",".join(parsing.COLUMNS)
ROW = "S-1,2026-01-02,CUST-00001,P-1001,north,3,9.99"


def csv_file(*lines: str) -> str:
    return "\n".join([HEADER, *lines]) + "\n"


def test_csv_lines_become_records_of_text() -> None:
    entries = parsing.parse(csv_file(ROW, ROW.replace("S-1", "S-2")), "csv")
    assert entries[0] == {
        "line": 1,
        "record": dict(zip(parsing.COLUMNS, ROW.split(","), strict=True)),
        "error": None,
        "raw": None,
        "duplicate_of": None,
    }
    assert [e["line"] for e in entries] == [1, 2]


def test_csv_line_breaks_quotes_and_header_order() -> None:
    header = "unitPrice, quantity ,region,productId,customerId,orderDate,orderId,note"
    text = f'{header}\r\n9.99,3,north,P-1001,"ACME, Inc.",2026-01-02,S-1,"said ""hi"""\r\n'
    [entry] = parsing.parse(text, "csv")
    assert entry["record"]["customerId"] == "ACME, Inc."
    assert entry["record"]["quantity"] == "3"
    assert entry["record"]["note"] == 'said "hi"'  # extra columns are kept, not an error


@pytest.mark.parametrize(
    "line",
    [
        "S-1,2026-01-02,CUST-00001,P-1001",  # too few columns
        ROW + ",extra",  # too many columns
        'S-1,"2026-01-02,CUST-00001,P-1001,north,3,9.99',  # a quote that never closes
        'S-1,"2026"-01-02,CUST-00001,P-1001,north,3,9.99',  # text after a closing quote
        "",  # a blank line inside the file
        '{"orderId": "S-1"}',
    ],
)
def test_a_bad_csv_line_is_a_malformed_entry_carrying_the_line(line: str) -> None:
    entries = parsing.parse(csv_file(ROW.replace("S-1", "S-0"), line, ROW.replace("S-1", "S-2")), "csv")
    assert len(entries) == 3
    assert entries[1] == {"line": 2, "record": None, "error": "malformed-line", "raw": line, "duplicate_of": None}
    assert entries[2]["record"] is not None


def test_only_real_line_breaks_end_a_line() -> None:
    text = csv_file(ROW.replace("CUST-00001", "CUST\u2028\x0c00001"))
    [entry] = parsing.parse(text, "csv")
    assert entry["record"]["customerId"] == "CUST\u2028\x0c00001"


def test_empty_lines_at_the_end_are_not_records() -> None:
    assert len(parsing.parse(csv_file(ROW) + "\n\n", "csv")) == 1
    assert parsing.parse(HEADER, "csv") == []


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("orderId,orderDate,customerId,productId,region", "lacks column(s) quantity, unitPrice"),
        ("\ufefforderId,orderDate,customerId,productId,region,quantity,unitPrice", "lacks column(s) orderId"),
        ("id;date;customer", "lacks column(s) orderId, orderDate"),
        (HEADER + ",region", "repeats column(s) region"),
        ('"orderId,orderDate', "not valid CSV"),
    ],
)
def test_a_bad_header_is_a_clear_error(header: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parsing.parse(f"{header}\n{ROW}\n", "csv")


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("", "csv", "empty"),
        ("\n\n", "csv", "empty"),
        ("{}", "json", "array of orders, found a dict"),
        ("null", "json", "array of orders, found a NoneType"),
        ("[1,", "json", "not valid JSON"),
        ("[]", "xml", "unknown format 'xml'"),
    ],
)
def test_an_unreadable_file_is_a_clear_error(text: str, fmt: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parsing.parse(text, fmt)


def test_json_elements_that_are_not_objects_are_malformed() -> None:
    text = json.dumps([{"orderId": "S-1"}, "S-2,2026-01-01", 7, None, ["S-3"], {}])
    entries = parsing.parse(text, "json")
    assert [e["line"] for e in entries] == [1, 2, 3, 4, 5, 6]
    bad = "malformed-line"
    assert [e["error"] for e in entries] == [None, bad, bad, bad, bad, None]
    assert [e["raw"] for e in entries] == [None, '"S-2,2026-01-01"', "7", "null", '["S-3"]', None]
    assert entries[0]["record"] == {"orderId": "S-1"}
    assert entries[5]["record"] == {}


def test_a_repeated_order_id_points_at_its_first_line() -> None:
    records = [
        {"orderId": "A"},
        {"orderId": "B"},
        {"orderId": " A "},  # stored without the spaces, so the same order
        "A",  # malformed: not an order, so neither first nor duplicate
        {"orderId": "A"},
        {"orderId": ""},
        {"orderId": ""},  # empty ids are missing fields, not duplicates
        {"orderId": 5},
        {"orderId": "5"},  # a number is the wrong type, never stored: no clash
    ]
    entries = parsing.parse(json.dumps(records), "json")
    assert [e["duplicate_of"] for e in entries] == [None, None, 1, None, 1, None, None, None, None]


def test_csv_duplicates_are_marked_too() -> None:
    entries = parsing.parse(csv_file(ROW, ROW.replace("S-1", "S-2"), ROW), "csv")
    assert [e["duplicate_of"] for e in entries] == [None, None, 1]


CSV_TEXT = st.text(alphabet=st.sampled_from('ab1,"; \t\u2028\x0c'), max_size=25)


@given(lines=st.lists(CSV_TEXT, max_size=30))
def test_csv_parsing_never_loses_a_line(lines: list[str]) -> None:
    text = "\n".join([HEADER, *lines])
    while lines and not lines[-1]:
        lines.pop()  # empty lines at the end are only line breaks
    entries = parsing.parse(text, "csv")
    starts = [e["line"] for e in entries]
    # Every line starts an entry, or lies inside a record whose quoted value spans lines.
    assert starts == sorted(set(starts))
    assert not lines or starts[0] == 1
    ends = [*starts[1:], len(lines) + 1][: len(entries)]
    for entry, end in zip(entries, ends, strict=True):
        assert (entry["record"] is None) == (entry["error"] == "malformed-line")
        if entry["error"]:
            assert entry["raw"] == lines[entry["line"] - 1]
            assert end == entry["line"] + 1, "a malformed line is one line"
        else:
            assert len(entry["record"]) == len(parsing.COLUMNS)


@given(rows=st.lists(st.lists(st.text(), min_size=7, max_size=7)))
def test_csv_written_by_the_csv_module_reads_back_exactly(rows: list[list[str]]) -> None:
    """Quoted values with line breaks (\\n, \\r\\n, \\r) included."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(parsing.COLUMNS)
    writer.writerows(rows)
    entries = parsing.parse(buffer.getvalue(), "csv")
    assert [e["record"] for e in entries] == [dict(zip(parsing.COLUMNS, row, strict=True)) for row in rows]


def test_a_quoted_line_break_keeps_the_record_whole_and_numbered_by_its_first_line() -> None:
    text = csv_file(ROW, 'S-2,2026-01-02,"CUST-2\nfloor 2",P-1001,north,3,9.99', ROW.replace("S-1", "S-3"))
    entries = parsing.parse(text, "csv")
    assert [(e["line"], e["error"]) for e in entries] == [(1, None), (2, None), (4, None)]
    assert entries[1]["record"]["customerId"] == "CUST-2\nfloor 2"


def test_a_quote_that_never_closes_costs_its_line_alone() -> None:
    text = csv_file('S-1,"2026-01-02,CUST-1,P-1001,north,3,9.99', ROW.replace("S-1", "S-2"), 'S-3,"x', "S-4,y")
    entries = parsing.parse(text, "csv")
    assert [(e["line"], e["error"]) for e in entries] == [
        (1, "malformed-line"),
        (2, None),
        (3, "malformed-line"),
        (4, "malformed-line"),
    ]
    assert entries[0]["raw"] == 'S-1,"2026-01-02,CUST-1,P-1001,north,3,9.99'


def test_a_json_integer_too_long_for_int_is_kept_as_its_text() -> None:
    digits = "9" * 5000
    entries = parsing.parse(f'[{{"orderId": "S-1", "quantity": {digits}}}, {{"quantity": 3}}]', "json")
    assert entries[0]["record"]["quantity"] == digits
    assert entries[1]["record"]["quantity"] == 3


JSON_SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)
JSON_VALUE = st.recursive(
    JSON_SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
)


@given(items=st.lists(JSON_VALUE | st.fixed_dictionaries({"orderId": st.sampled_from(["A", "B", " A"])}), max_size=20))
def test_json_parsing_never_loses_an_element(items: list[Any]) -> None:
    entries = parsing.parse(json.dumps(items), "json")
    assert [e["line"] for e in entries] == list(range(1, len(items) + 1))
    for entry, item in zip(entries, items, strict=True):
        assert entry["record"] == (item if isinstance(item, dict) else None)
        assert (entry["error"] == "malformed-line") is not isinstance(item, dict)
        if entry["duplicate_of"] is not None:
            assert entry["duplicate_of"] < entry["line"]
            assert entries[entry["duplicate_of"] - 1]["duplicate_of"] is None
