"""The suite itself: pytest imports test modules by their file name (rootdir mode, no
packages), so two test files with one name in different folders stop collection."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_has_a_name_of_its_own() -> None:
    places: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        places[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: found for name, found in places.items() if len(found) > 1}
    assert not clashes, f"rename one of each: {clashes}"
