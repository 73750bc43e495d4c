"""Length-prefixed JSON frames between the executor (inside LocalStack) and a worker.

Stdlib only: the worker imports this module by path, before any user code.
"""

from __future__ import annotations

import json
import os
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the worker imports this module: typing costs its cold start
    from typing import Any

_HEADER = struct.Struct(">I")


def write_frame(fd: int, message: dict[str, Any]) -> None:
    """Write one JSON message, prefixed by its length, to a file descriptor."""
    body = json.dumps(message, separators=(",", ":")).encode()
    data = _HEADER.pack(len(body)) + body
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, size: int) -> bytes | None:
    """Read exactly `size` bytes, or None when the other end closed first."""
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict[str, Any] | None:
    """Read one message; None when the other end closed the pipe."""
    header = read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    body = read_exact(fd, size)
    if body is None:
        return None
    message: dict[str, Any] = json.loads(body)
    return message
