"""The benchmark runs end to end and reports every measure (its numbers are not asserted)."""

from __future__ import annotations

import pytest
from serverless_testbed.bench import MEASURES, render, run_benchmarks
from serverless_testbed.settings import Settings


@pytest.mark.embedded_only(reason="benchmarks start and measure an embedded engine of their own")
def test_benchmarks_report_every_measure(settings: Settings):
    if settings.target != "embedded":
        pytest.skip(f"benchmarks start their own embedded engine; target is {settings.target}")
    results = run_benchmarks(Settings(target="embedded"), warm_calls=5, sfn_runs=2, sales_sizes=(1000,))
    assert list(results) == [key for key in MEASURES if not key.startswith("sales_10000")]
    assert results.pop("sales_unaccounted") == 0, "every sales record must be stored or dead-lettered"
    assert results.pop("sales_1000_unaccounted") == 0, "the per-size count agrees"
    assert isinstance(results.pop("print_kept_share"), float)  # a share of growth: about 0, below 0 when RSS fell
    assert all(value > 0 for value in results.values()), results
    assert (results["warm_calls"], results["sfn_runs"]) == (5, 2)
    assert render(results).row_count == len(results)


def test_benchmarks_refuse_other_targets():
    with pytest.raises(ValueError, match="embedded engine"):
        run_benchmarks(Settings(target="endpoint"))
