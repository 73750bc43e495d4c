"""An embedded engine finds LocalStack's service catalog prebuilt (serverless_testbed/engine/service_catalog.py)
instead of building it on its first request (2.4 s and about 350 MB kept in the engine)."""

from __future__ import annotations

from pathlib import Path

import pytest
from serverless_testbed.engine.service_catalog import catalog_name
from serverless_testbed.engine.venv import engine_venv


@pytest.mark.embedded_only(reason="reads the embedded engine's own directories")
def test_the_engine_serves_requests_without_building_a_catalog(aws, engine):
    aws("sqs").list_queues()
    aws("dynamodb").list_tables()
    fs = Path(engine.record.root) / "fs"
    prebuilt = fs / "usr/lib/localstack" / catalog_name(engine_venv().botocore_version)
    assert prebuilt.is_symlink(), f"{prebuilt} links to the shared catalog"
    assert prebuilt.resolve().is_file()
    built_here = list((fs / "var/lib/localstack/cache").glob("service-catalog-*"))
    assert built_here == [], f"the engine built a catalog of its own: {built_here}"
