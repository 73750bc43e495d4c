"""The CSV extract generator: deterministic, and every file and row labelled with the
outcome the pipeline's own rules give it."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serverless_testbed.generators import dump
from serverless_testbed.lambda_code import load

from fixtures.csv_files import (
    BAD_FILES,
    COLUMNS,
    FILE_REASONS,
    ROW_FAULTS,
    generate_bad_file,
    generate_csv_file,
    generate_rows,
)

reading = load("csv_etl", "reading")
schema = load("csv_etl", "schema")


def chunks(body: bytes, size: int = 64) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    assert generate_csv_file(50, 0.2, seed=4).body == generate_csv_file(50, 0.2, seed=4).body
    assert generate_csv_file(50, 0.2, seed=4).body != generate_csv_file(50, 0.2, seed=5).body
    for kind in BAD_FILES:
        assert generate_bad_file(kind, seed=4).body == generate_bad_file(kind, seed=4).body, kind
    assert dump("csv-etl", 20, 0.1, 3, "csv") == dump("csv-etl", 20, 0.1, 3, "csv")


def test_rows_are_numbered_and_exactly_the_asked_share_is_bad() -> None:
    rows = generate_rows(200, 0.15, seed=8)
    assert [row.record["line"] for row in rows] == list(range(2, 202))
    bad = [row for row in rows if not row.expected.valid]
    assert len(bad) == 30, f"expected round(200 * 0.15) = 30 bad rows, got {len(bad)}"
    assert all(len(row.expected.reasons) == 1 and row.record["target"] is None for row in bad)
    good = [row for row in rows if row.expected.valid]
    assert all(row.record["target"]["transaction_id"] == row.record["fields"]["transaction_id"] for row in good)


def test_every_row_fault_occurs_in_a_large_file() -> None:
    rows = generate_rows(2000, 0.3, seed=1)
    faults = Counter(row.expected.reasons[0].split(":")[0] for row in rows if not row.expected.valid)
    assert set(faults) == set(ROW_FAULTS), f"expected every fault of {ROW_FAULTS}, saw {dict(faults)}"


def test_the_loader_rejects_exactly_the_rows_labelled_bad_for_their_reasons() -> None:
    csv_file = generate_csv_file(400, 0.2, seed=11)
    judge = schema.RowJudge()
    for row in csv_file.rows:
        fields = row.record["fields"]
        assert judge.judge(row.record["line"], fields) == list(row.expected.reasons), (
            f"line {row.record['line']} {fields}: expected {row.expected.reasons}"
        )


def test_the_transform_gives_the_target_rows_the_generator_expects() -> None:
    csv_file = generate_csv_file(300, 0.1, seed=12)
    for row in csv_file.loaded:
        produced = schema.transform(row.record["fields"])
        expected = {k: v for k, v in row.record["target"].items() if k != "source_line"}
        assert {k: str(v) if isinstance(v, Decimal) else v for k, v in produced.items()} == expected


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", BAD_FILES)
def test_each_bad_file_is_rejected_for_its_reason_alone(kind: str, seed: int) -> None:
    csv_file = generate_bad_file(kind, seed=seed)
    verdict = reading.check_file(chunks(csv_file.body), max_rows=1000)
    assert csv_file.expected.reasons == (FILE_REASONS[kind],)
    assert (verdict["valid"], verdict["codes"]) == (False, [FILE_REASONS[kind]]), (
        f"{kind} (seed {seed}): expected only {FILE_REASONS[kind]}, saw {verdict['reasons']}"
    )
    assert not csv_file.loaded
    assert not csv_file.rejected


@settings(max_examples=60, deadline=None)
@given(records=st.integers(0, 40), invalid_rate=st.floats(0, 1), seed=st.integers(0, 10_000))
def test_the_file_label_matches_the_validation_verdict(records: int, invalid_rate: float, seed: int) -> None:
    csv_file = generate_csv_file(records, invalid_rate, seed)
    verdict = reading.check_file(chunks(csv_file.body, 7), max_rows=1000)
    assert verdict["valid"] == csv_file.expected.valid, (csv_file.expected, verdict["reasons"])
    if csv_file.expected.valid:
        assert (verdict["rows"], verdict["rejected"]) == (records, len(csv_file.rejected))
    else:
        assert verdict["codes"] == list(csv_file.expected.reasons)


def test_good_files_are_utf8_with_the_declared_header_and_accented_values() -> None:
    body = generate_csv_file(100, 0, seed=2).body
    text = body.decode("utf-8")
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert not text.isascii(), "good files carry non-ASCII store or product names"
