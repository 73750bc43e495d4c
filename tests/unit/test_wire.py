"""Length-prefixed JSON frames between the Lambda executor and its workers."""

from __future__ import annotations

import contextlib
import os
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serverless_testbed.localstack_plugins.wire import read_exact, read_frame, write_frame

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=8,
)
messages = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_fd, write_fd = os.pipe()
    yield read_fd, write_fd
    for fd in (read_fd, write_fd):
        with contextlib.suppress(OSError):  # the test closed it already
            os.close(fd)


def round_trip(frames: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """Write frames from a thread (a pipe holds only 64 KiB) and read them back, then EOF."""
    read_fd, write_fd = os.pipe()

    def writer() -> None:
        for frame in frames:
            write_frame(write_fd, frame)
        os.close(write_fd)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        received = [read_frame(read_fd) for _ in range(len(frames) + 1)]
    finally:
        thread.join()
        os.close(read_fd)
    return received


@settings(max_examples=40)
@given(st.lists(messages, max_size=4))
def test_frames_round_trip_in_order_then_eof(frames: list[dict[str, Any]]):
    assert round_trip(frames) == [*frames, None]


def test_a_frame_larger_than_the_pipe_buffer_round_trips():
    big = {"payload": "x" * (3 << 20), "id": "req-1"}
    assert round_trip([big, {"after": True}]) == [big, {"after": True}, None]


def test_unicode_payloads_survive(pipe: tuple[int, int]):
    read_fd, write_fd = pipe
    message = {"payload": "Zoë 💳 €42 \u2028", "emoji": ["🙂"]}
    write_frame(write_fd, message)
    assert read_frame(read_fd) == message


def test_the_header_is_the_big_endian_length_of_compact_json(pipe: tuple[int, int]):
    read_fd, write_fd = pipe
    write_frame(write_fd, {"a": [1, 2]})
    header = os.read(read_fd, 4)
    body = os.read(read_fd, 100)
    assert struct.unpack(">I", header) == (len(body),)
    assert body == b'{"a":[1,2]}'


def test_eof_before_any_frame_is_none(pipe: tuple[int, int]):
    read_fd, write_fd = pipe
    os.close(write_fd)
    assert read_frame(read_fd) is None


def test_a_truncated_header_is_none(pipe: tuple[int, int]):
    read_fd, write_fd = pipe
    os.write(write_fd, b"\x00\x00")
    os.close(write_fd)
    assert read_frame(read_fd) is None


def test_a_truncated_body_is_none(pipe: tuple[int, int]):
    read_fd, write_fd = pipe
    os.write(write_fd, struct.pack(">I", 50) + b'{"partial":')
    os.close(write_fd)
    assert read_frame(read_fd) is None


def test_read_exact_gathers_partial_writes(pipe: tuple[int, int]):
    read_fd, write_fd = pipe
    for chunk in (b"ab", b"c", b"defg"):
        os.write(write_fd, chunk)
    assert read_exact(read_fd, 7) == b"abcdefg"
    assert read_exact(read_fd, 0) == b""
