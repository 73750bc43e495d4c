"""Deployment packages are deterministic: the same sources give the same bytes and CodeSha256."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from serverless_testbed.packaging import code_sha256, zip_directory, zip_files

names = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=12).filter(
        lambda part: part not in {".", ".."}
    ),
    min_size=1,
    max_size=3,
).map("/".join)
contents = st.one_of(st.binary(max_size=256), st.text(max_size=64))
file_maps = st.dictionaries(names, contents, max_size=6)


def read_back(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {info.filename: opened.read(info) for info in opened.infolist()}


@given(file_maps)
def test_same_files_give_the_same_bytes_whatever_the_order(files: dict[str, bytes | str]):
    reordered = dict(reversed(list(files.items())))
    archive = zip_files(files)
    assert zip_files(files) == archive
    assert zip_files(reordered) == archive
    assert code_sha256(zip_files(reordered)) == code_sha256(archive)


@given(file_maps)
def test_the_archive_holds_exactly_the_files(files: dict[str, bytes | str]):
    expected = {name: c.encode() if isinstance(c, str) else c for name, c in files.items()}
    assert read_back(zip_files(files)) == expected


def test_entries_are_sorted_with_a_fixed_timestamp_and_mode():
    archive = zip_files({"b.py": "b = 1\n", "a.py": b"a = 1\n"})
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        infos = opened.infolist()
    assert [info.filename for info in infos] == ["a.py", "b.py"]
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o644}


def test_code_sha256_is_what_lambda_reports():
    archive = zip_files({"handler.py": "def handler(event, context):\n    return event\n"})
    assert code_sha256(archive) == base64.b64encode(hashlib.sha256(archive).digest()).decode()
    assert code_sha256(b"") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def make_source(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "handler.py").write_text("from pkg import util\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "util.py").write_text("VALUE = 1\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "handler.cpython-313.pyc").write_bytes(b"\x00junk")
    (root / "pkg" / "stale.pyc").write_bytes(b"\x00junk")
    (root / ".pytest_cache").mkdir()
    (root / ".pytest_cache" / "README.md").write_text("cache")


def test_zip_directory_takes_sources_and_skips_caches(tmp_path: Path):
    make_source(tmp_path / "fn")
    files = read_back(zip_directory(tmp_path / "fn"))
    assert sorted(files) == ["handler.py", "pkg/__init__.py", "pkg/util.py"]
    assert files["pkg/util.py"] == b"VALUE = 1\n"


def test_zip_directory_ignores_timestamps_and_location(tmp_path: Path):
    make_source(tmp_path / "one")
    make_source(tmp_path / "two")
    for path in (tmp_path / "two").rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    first = zip_directory(tmp_path / "one")
    assert zip_directory(tmp_path / "two") == first
    assert code_sha256(zip_directory(tmp_path / "one")) == code_sha256(first)


def test_zip_directory_changes_when_a_source_changes(tmp_path: Path):
    make_source(tmp_path / "fn")
    before = code_sha256(zip_directory(tmp_path / "fn"))
    (tmp_path / "fn" / "pkg" / "util.py").write_text("VALUE = 2\n")
    assert code_sha256(zip_directory(tmp_path / "fn")) != before


def test_zip_directory_adds_extra_files_under_their_archive_names(tmp_path: Path):
    make_source(tmp_path / "fn")
    shared = tmp_path / "shared.py"
    shared.write_text("SHARED = True\n")
    files = read_back(zip_directory(tmp_path / "fn", extra={"lib/shared.py": shared}))
    assert files["lib/shared.py"] == b"SHARED = True\n"
    assert "handler.py" in files


def test_zip_directory_under_a_cache_named_parent_still_finds_sources(tmp_path: Path):
    # Only the parts below the root matter: a checkout inside such a folder still packages.
    root = tmp_path / "__pycache__" / "fn"
    make_source(root)
    files = read_back(zip_directory(root))
    assert sorted(files) == ["handler.py", "pkg/__init__.py", "pkg/util.py"]
