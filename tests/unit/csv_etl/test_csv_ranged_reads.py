"""The CSV ETL's S3 reads: bounded ranges, a read cut short asked for again from where it
stopped, and record positions a load resumes from.

The reads go over real HTTP to a small S3-speaking server that really cuts a response
short (it announces the whole range, sends part of it and closes the connection): the
same failure as the reset the engine's S3 gives a stream held open too long.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from serverless_testbed.lambda_code import load

storage = load("csv_etl", "storage")
reading = load("csv_etl", "reading")


class FlakyS3(BaseHTTPRequestHandler):
    """GetObject with Range for one object; the first `cuts` responses stop half way."""

    protocol_version = "HTTP/1.1"
    server: Any

    def do_GET(self) -> None:
        body: bytes = self.server.body
        first, last = (int(n) for n in re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers["Range"]).groups())
        self.server.ranges.append((first, last))
        if first >= len(body):
            self.send_response(416)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        part = body[first : last + 1]
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {first}-{first + len(part) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(part)))
        self.send_header("ETag", '"' + hashlib.md5(body).hexdigest() + '"')
        self.end_headers()
        if self.server.cuts > 0:
            self.server.cuts -= 1
            self.wfile.write(part[: len(part) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # the rest of the announced range never comes
            return
        self.wfile.write(part)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyS3)
    server.body, server.ranges, server.cuts = b"", [], 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(storage, "RANGE", 1000)  # several ranges from a small object
    storage.client.cache_clear()
    yield server
    storage.client.cache_clear()
    server.shutdown()
    server.server_close()


def test_a_read_cut_short_is_asked_for_again_from_the_byte_where_it_stopped(s3: Any) -> None:
    s3.body, s3.cuts = bytes(range(256)) * 12, 1  # 3,072 bytes: four ranges

    read = b"".join(storage.RangedObject("b", "big.csv"))

    assert read == s3.body, "the bytes read must be the object's, none lost or doubled"
    assert s3.ranges == [(0, 999), (500, 999), (1000, 1999), (2000, 2999), (3000, 3999)], s3.ranges


def test_a_read_that_keeps_failing_is_a_transient_error_naming_the_byte(s3: Any) -> None:
    s3.body, s3.cuts = b"x" * 2500, 99

    class Transient(storage.TransientError):
        pass

    with pytest.raises(Transient, match=r"big\.csv from byte 9\d\d failed 5 times"):
        b"".join(storage.RangedObject("b", "big.csv", error=Transient))


def test_reading_from_an_offset_asks_for_that_range_only(s3: Any) -> None:
    s3.body = b"0123456789" * 250

    read = b"".join(storage.RangedObject("b", "big.csv", start=1234))

    assert read == s3.body[1234:]
    assert s3.ranges[0] == (1234, 2233), s3.ranges


CSV = (
    "\ufefftransaction_id,date,store,product,quantity,unit_price,currency\r\n"
    'TX-1,2026-01-02,"Zürich HB","Crème ""brûlée""",2,3.50,CHF\r\n'
    "\r\n"
    'TX-2,2026-01-03,"Malmö\nTriangeln",Bagel,1,1.00,SEK\n'
    "TX-3,2026-01-04,Store,Açaí bowl,4,9.99,EUR\n"
    'TX-4,2026-01-05,"a, b",Croissant,1,2.00,USD'
).encode()


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_records_resumed_from_any_position_are_the_ones_read_in_one_pass(size: int) -> None:
    whole = list(reading.records(pieces(CSV, size)))
    for stop in range(1, len(whole)):
        position = reading.Position()
        first = []
        for record in reading.positioned_records(pieces(CSV, size), position):
            first.append(record)
            if len(first) == stop:
                break
        rest = list(reading.positioned_records(pieces(CSV[position.offset :], size), position))
        assert first + rest == whole, f"stopped after {stop} records at byte {position.offset}, line {position.line}"
