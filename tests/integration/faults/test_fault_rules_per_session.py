"""Two sessions on one engine (a reused `testbed up` engine, or parallel workers on it) each
remove only their own fault rules: one ending never lifts the other's faults."""

from __future__ import annotations

import pytest
from serverless_testbed.faults import FaultsClient


@pytest.mark.embedded_only(reason="fault rules live in the embedded engine")
def test_a_client_removes_only_the_rules_it_installed(engine):
    mine, theirs = FaultsClient(engine.endpoint_url), FaultsClient(engine.endpoint_url)
    kept = theirs.inject(function="other-session-fn", fault="crash")
    try:
        added = [
            mine.inject(function="my-fn", fault="crash"),
            mine.inject(service="s3", operation="GetObject", latency_ms=1),
        ]
        assert mine.remove_installed() == 2
        installed = {rule["id"] for rule in mine.list()}
        assert kept["id"] in installed, "the other session's rule is still installed"
        assert not installed & {rule["id"] for rule in added}, "this session's rules are gone"
        assert mine.remove_installed() == 0, "nothing is removed twice"
    finally:
        theirs.remove_installed()
