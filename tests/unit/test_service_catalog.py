"""The shared LocalStack service catalog: LocalStack's file name, built once, never half-written."""

from __future__ import annotations

import sys
from pathlib import Path

import botocore
import pytest
from serverless_testbed.engine import service_catalog
from serverless_testbed.engine.service_catalog import catalog_name, link_catalog, shared_catalog

# The engine's packages are in this (the development) environment too: it builds as the engine's would.
PYTHON, BOTOCORE = Path(sys.executable), botocore.__version__


def test_the_name_is_the_one_localstack_looks_for():
    from localstack.aws.spec import _get_catalog_filename

    assert catalog_name(BOTOCORE) == _get_catalog_filename()


def test_it_is_built_once_and_loads_as_localstacks_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from localstack.aws.spec import load_service_index_cache

    built = shared_catalog(tmp_path, PYTHON, BOTOCORE)
    assert built == tmp_path / catalog_name(BOTOCORE)
    index = load_service_index_cache(str(built))
    assert {"sqs", "dynamodb", "lambda", "stepfunctions", "s3"} <= set(index.service_names)
    monkeypatch.setattr(service_catalog.subprocess, "run", lambda *a, **k: pytest.fail("built a second time"))
    assert shared_catalog(tmp_path, PYTHON, BOTOCORE) == built
    assert sorted(path.name for path in tmp_path.iterdir()) == [catalog_name(BOTOCORE)], "no partial files are left"


def test_a_failed_build_leaves_nothing_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setattr(service_catalog, "_BUILD", "raise SystemExit('no catalog today')")
    assert shared_catalog(tmp_path, PYTHON, BOTOCORE) is None
    assert list(tmp_path.iterdir()) == []
    assert "could not build LocalStack's service catalog" in caplog.text
    assert "no catalog today" in caplog.text


def test_an_engine_finds_it_where_the_image_keeps_its_own(tmp_path: Path):
    catalog = tmp_path / "static" / catalog_name(BOTOCORE)
    catalog.parent.mkdir()
    catalog.write_bytes(b"index")
    link_catalog(tmp_path / "fs", catalog)
    assert (tmp_path / "fs/usr/lib/localstack" / catalog.name).read_bytes() == b"index"
