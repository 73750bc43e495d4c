"""The CSV ETL functions' rules: file verdicts, row checks, the transform, names."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from serverless_testbed.lambda_code import load

reading = load("csv_etl", "reading")
schema = load("csv_etl", "schema")
validate = load("csv_etl", "validate")
start = load("csv_start", "handler")

HEADER = ",".join(schema.COLUMNS)
GOOD = "TX-1,2026-03-01,Lyon Part-Dieu,Bagel,2,1.25,EUR"


def s3_event(key: str, sequencer: str, time: str = "2026-05-01T10:00:00.000Z") -> dict[str, Any]:
    return {
        "eventTime": time,
        "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": 5, "eTag": "e", "sequencer": sequencer}},
    }


def verdict(text: str | bytes, max_rows: int = 100, size: int = 5) -> dict[str, Any]:
    body = text.encode() if isinstance(text, str) else text
    return reading.check_file([body[i : i + size] for i in range(0, len(body), size)], max_rows)


def test_a_good_file_is_valid_with_bom_crlf_and_padded_header() -> None:
    text = "\ufeff" + " , ".join(schema.COLUMNS) + "\r\n" + GOOD + "\r\n" + GOOD.replace("TX-1", "TX-2") + "\r\n"
    result = verdict(text.replace(" , ", ","))
    assert (result["valid"], result["rows"], result["rejected"], result["loadable"]) == (True, 2, 0, 2), result


def test_multibyte_characters_split_across_chunks_decode() -> None:
    text = f"{HEADER}\n" + GOOD.replace("Lyon Part-Dieu", "Zürich HB ☕") + "\n"
    assert verdict(text, size=1)["valid"]


def test_not_utf8_names_the_offending_byte() -> None:
    body = f"{HEADER}\n{GOOD}\n".replace("Lyon", "Zürich").encode("latin-1")
    result = verdict(body)
    assert result["codes"] == ["not-utf8"]
    offset = body.index("ü".encode("latin-1"))
    assert f"byte {offset} " in result["reasons"][0]["detail"], result["reasons"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty-file"),
        ("\n \n", "empty-file"),
        (f"{HEADER}\n", "empty-file"),
        ("id,date\n1,2\n", "wrong-header"),
        (f"{HEADER}\n{GOOD}\nTX-2,2026-03-01\n", "truncated-rows"),
        (f"{HEADER}\n{GOOD},extra\n{GOOD.replace('TX-1', 'TX-2')}\n", "extra-fields"),
        (f'{HEADER}\n{GOOD}\nTX-2,"2026-03-01,x\n', "malformed-csv"),
        (f"{HEADER}\nTX-1,2026-03-01,L,B,0,1.00,EUR\n", "no-valid-rows"),
        (
            f"{HEADER}\nTX-1,01/03/2026,L,B,1,1.00,EUR\nTX-2,02/03/2026,L,B,1,1.00,EUR\n"
            f"{GOOD.replace('TX-1', 'TX-3')}\n",
            "bad-types",
        ),
    ],
)
def test_file_faults_reject_the_file(text: str, code: str) -> None:
    result = verdict(text)
    assert (result["valid"], result["codes"]) == (False, [code]), result["reasons"]


def test_a_minority_of_mistyped_values_rejects_rows_not_the_file() -> None:
    rows = [GOOD.replace("TX-1", f"TX-{n}") for n in range(3)] + ["TX-9,01/03/2026,L,B,1,1.00,EUR"]
    result = verdict(HEADER + "\n" + "\n".join(rows) + "\n")
    assert (result["valid"], result["rows"], result["rejected"]) == (True, 4, 1), result


def test_too_many_rows() -> None:
    rows = "\n".join(GOOD.replace("TX-1", f"TX-{n}") for n in range(5))
    assert verdict(f"{HEADER}\n{rows}\n", max_rows=4)["codes"] == ["too-many-rows"]


def test_truncated_rows_are_listed_by_line() -> None:
    rows = [GOOD.replace("TX-1", f"TX-{n}") if n % 3 else "TX-x,2026-01-01" for n in range(40)]
    detail = verdict(HEADER + "\n" + "\n".join(rows) + "\n")["reasons"][0]["detail"]
    assert detail.startswith("14 row(s) with fewer than 7 fields, line(s) 2, 5, 8,")
    assert "and 4 more" in detail


def test_a_row_gets_every_reason_that_applies() -> None:
    fields = dict(zip(schema.COLUMNS, ["", "2026-02-30", "L", " ", "-1", "0", "eur"], strict=True))
    assert schema.row_reasons(fields) == [
        "missing-value:transaction_id", "bad-type:date", "missing-value:product", "non-positive-quantity",
        "non-positive-price",
    ]  # fmt: skip


def test_only_the_first_row_of_a_transaction_is_kept() -> None:
    judge = schema.RowJudge()
    good = dict(zip(schema.COLUMNS, GOOD.split(","), strict=True))
    assert judge.judge(2, {**good, "quantity": "x"}) == ["bad-type:quantity"]
    assert judge.judge(3, good) == []
    assert judge.judge(4, good) == ["duplicate-transaction-id"]


def test_the_transform_types_cleans_and_derives() -> None:
    fields = dict(
        zip(schema.COLUMNS, ["TX-7", "2026-04-30", "  Malmö   Triangeln ", "Bagel", "3", "10.05", " sek "], strict=True)
    )
    assert schema.transform(fields) == {
        "transaction_id": "TX-7", "date": "2026-04-30", "month": "2026-04", "store": "Malmö Triangeln",
        "product": "Bagel", "quantity": 3, "unit_price": Decimal("10.05"), "currency": "SEK",
        "amount": Decimal("30.15"), "amount_usd": Decimal("2.86"),
    }  # fmt: skip


def test_placement_keeps_the_path_below_the_source_prefix() -> None:
    assert validate.placement("source/2026/05/day.csv", '"abc"') == {
        "archive_key": "archive/2026/05/day.csv",
        "error_key": "error/2026/05/day.csv",
        "rejects_key": "error/2026/05/day.rejected-rows.jsonl",
        "load_id": "source/2026/05/day.csv#abc",
    }


@pytest.mark.parametrize("key", ["source/a+b%2Bc.csv", "source/" + "x" * 200 + ".csv", "source/%C3%BC/..csv"])
def test_execution_names_are_valid(key: str) -> None:
    name = start.execution_name(s3_event(key, "0062A1B2C3D4E5F601"))
    assert len(name) <= 80, name
    assert all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in name), name


def test_one_event_one_name_and_each_upload_its_own() -> None:
    first = s3_event("source/day.csv", "01", time="2026-05-01T10:00:00.000Z")
    again = s3_event("source/day.csv", "01", time="2026-05-01T10:00:00.000Z")
    later = s3_event("source/day.csv", "01", time="2026-05-01T10:00:00.250Z")
    assert start.execution_name(first) == start.execution_name(again)
    assert start.execution_name(first) != start.execution_name(later)
    assert start.execution_name(first).startswith("day-")


@pytest.mark.parametrize(
    ("key", "csv"),
    [("source/a.csv", True), ("source/a.CSV", True), ("source/a.Csv", True), ("source/a.csv.txt", False),
     ("source/notes.txt", False), ("source/.csv", False), ("source/csv", False)],
)  # fmt: skip
def test_a_csv_file_is_known_by_its_extension_in_any_case(key: str, csv: bool) -> None:
    assert start.is_csv(key) is csv, key


@pytest.mark.parametrize(
    ("encoded", "key"),
    [("source/Q1+sales.csv", "source/Q1 sales.csv"), ("source/sales%2Breturns.csv", "source/sales+returns.csv"),
     ("source/Z%C3%BCrich.CSV", "source/Zürich.CSV")],
)  # fmt: skip
def test_event_keys_are_url_decoded_as_s3_encodes_them(encoded: str, key: str) -> None:
    assert start.object_key(s3_event(encoded, "01")) == key


def test_an_upper_case_extension_is_not_part_of_the_execution_name() -> None:
    assert start.execution_name(s3_event("source/day.CSV", "01")).startswith("day-")


class FakeStepFunctions:
    """Records start_execution calls; a name seen before raises like Step Functions."""

    class exceptions:
        class ExecutionAlreadyExists(Exception):
            pass

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    def start_execution(self, **params: Any) -> dict[str, str]:
        if any(call["name"] == params["name"] for call in self.started):
            raise self.exceptions.ExecutionAlreadyExists(params["name"])
        self.started.append(params)
        return {"executionArn": f"arn:execution:{params['name']}"}


def test_the_start_function_decodes_keys_and_skips_duplicate_events(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeStepFunctions()
    monkeypatch.setattr(start, "_clients", {"stepfunctions": fake})
    monkeypatch.setenv("STATE_MACHINE_ARN", "arn:machine")
    event = {"Records": [s3_event("source/my+file%C3%BC.csv", "01"), s3_event("source/my+file%C3%BC.csv", "01")]}
    result = start.handler(event, None)
    assert (len(result["started"]), len(result["skipped"])) == (1, 1), result
    assert [json.loads(call["input"]) for call in fake.started] == [
        {"bucket": "b", "key": "source/my fileü.csv", "size": 5}
    ]
