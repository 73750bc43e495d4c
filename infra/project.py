"""Where the project's ASL files (`asl/`) and function folders (`src/`) are.

The root is, first to answer: an explicit setting (`use_root`, the pytest plugin's
`testbed_project_root` fixture, or an argument), `$TESTBED_PROJECT_ROOT`, the nearest
directory upward from the working directory that holds `asl/` and `src/`, and last the
checkout this package was installed from (an editable install). A wheel installed into
site-packages carries no `asl/` or `src/`, so it finds them by the first three.

Only the standard library is used: the compose init hook deploys with the image's Python.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.errors import BadInput

ROOT_VAR = "TESTBED_PROJECT_ROOT"
MARKERS = ("asl", "src")

# Set by `use_root` for the length of a test session or a command.
_explicit: Path | None = None


class ProjectNotFound(BadInput):
    """No directory holding asl/ and src/ was named or found."""


def is_project(path: Path) -> bool:
    """True when `path` holds both asl/ and src/."""
    return all((path / marker).is_dir() for marker in MARKERS)


def find_root(explicit: str | Path | None = None, cwd: Path | None = None) -> Path:
    """The project root, by the order in the module docstring; ProjectNotFound says where it looked."""
    named = explicit or _explicit or os.environ.get(ROOT_VAR)
    if named:
        root = Path(named).expanduser().resolve()
        if not is_project(root):
            source = "$" + ROOT_VAR if not (explicit or _explicit) else "the project root setting"
            raise ProjectNotFound(f"{source} names {root}, which does not hold both asl/ and src/")
        return root
    start = (cwd or Path.cwd()).resolve()
    for candidate in (start, *start.parents):
        if is_project(candidate):
            return candidate
    checkout = Path(__file__).resolve().parents[1]
    if is_project(checkout):
        return checkout
    raise ProjectNotFound(
        f"no project root: no directory from {start} upward holds asl/ and src/, and this package "
        f"({checkout}) is not a checkout; set ${ROOT_VAR} or run from your project's directory"
    )


def src_dir() -> Path:
    """The folder of function sources: one folder per function."""
    return find_root() / "src"


def asl_dir() -> Path:
    """The folder of state machine definitions."""
    return find_root() / "asl"


@contextmanager
def use_root(root: str | Path | None) -> Iterator[Path]:
    """Take `root` as the project root until the block ends (None: resolve as usual)."""
    global _explicit
    previous = _explicit
    chosen = find_root(root)
    _explicit = chosen
    try:
        yield chosen
    finally:
        _explicit = previous
