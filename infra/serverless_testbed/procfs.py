"""What Linux's /proc says about processes: their identity, their descendants, their sockets.

Stdlib only: the engine's supervisor imports it before anything else is loaded.
"""

from __future__ import annotations

import os
from pathlib import Path

# TCP state LISTEN in /proc/net/tcp{,6}
_LISTEN = "0A"


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The name may hold spaces and parentheses; it ends at the last ')'.
    return stat.rsplit(")", 1)[1].split()


def start_time(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), None if it is gone or a zombie.

    A pid is reused after its process ends; pid plus start time names one process.
    """
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])  # field 22 of stat; fields[0] is field 3


def is_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    return start_time(pid) is not None


def environment(pid: int) -> list[bytes] | None:
    """`pid`'s environment as it was exec'd, NAME=value entries; None if unreadable (not ours, gone)."""
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None


def has_variable(pid: int, name: str, value: str) -> bool:
    """True when `pid`'s environment holds NAME=value (False if unreadable: not ours)."""
    return f"{name}={value}".encode() in (environment(pid) or [])


def parents() -> dict[int, int]:
    """Every live process's parent pid."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None and fields[0] not in ("Z", "X"):
            found[int(entry)] = int(fields[1])
    return found


def children(pid: int) -> list[int]:
    """The live children of `pid`."""
    return [child for child, parent in parents().items() if parent == pid]


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` in the process tree (children, their children...)."""
    children: dict[int, list[int]] = {}
    for child, parent in parents().items():
        children.setdefault(parent, []).append(child)
    found, todo = [], list(children.get(pid, []))
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def listening_inodes(port: int) -> set[int]:
    """Inodes of the TCP sockets listening on `port`, any address, IPv4 or IPv6."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets `pid` holds open (empty if unreadable)."""
    inodes: set[int] = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def port_listeners_among(port: int, pids: list[int]) -> tuple[bool, bool]:
    """(someone listens on `port`, one of `pids` does)."""
    listening = listening_inodes(port)
    ours = any(listening & socket_inodes(pid) for pid in pids)
    return bool(listening), ours
