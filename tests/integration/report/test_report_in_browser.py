"""The HTML report of real runs, opened in a real headless Chromium (the OS package, driven by
Playwright): every picture rendered with a node per state, nothing logged as an error, the
rejected records listed with their reasons, the states inside the sales Distributed Map
traced, and screenshots at 1400 and 800 px wide saved under build/test-pictures/ (with the
report itself) for a person to look at."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from serverless_testbed.deploy import Deployer
from serverless_testbed.registry import workflows
from serverless_testbed.report.html import write_report
from serverless_testbed.runs import RunOptions

CHROMIUM = next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)
FLAGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[3] / "build" / "test-pictures"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on PATH: scripts/setup.sh installs it as root with CI=true (apt-get install chromium)",
)


WIDTHS = (1400, 800)
WORKFLOWS = ("orders", "sales", "processing", "router", "csv-etl")


def open_report(path: Path, shots: Path) -> dict[str, Any]:
    """Open `path` in headless Chromium at each of WIDTHS: what each picture shows, the rejected
    records listed, the states entered inside the sales map, the errors logged; screenshots of
    the top of the page and of the sales picture at each width."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    seen: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            for width in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 1400})
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
                page.goto(path.as_uri(), wait_until="load")
                seen["pictures"] = page.eval_on_selector_all(
                    "figure.picture",
                    """figures => figures.map(f => {
                        const svg = f.querySelector('svg');
                        const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
                        const frame = f.getBoundingClientRect();
                        return {machine: f.dataset.machine, mode: f.dataset.mode, states: Number(f.dataset.states),
                                nodes: svg ? svg.querySelectorAll('g.node.state').length : 0,
                                drawn: svg ? [...svg.querySelectorAll('g.node.state')].filter(
                                    g => g.getBBox().width > 0 && g.getBBox().height > 0).length : 0,
                                width: box.width, height: box.height, frame: frame.width,
                                centred: Math.abs((box.left - frame.left) - (frame.right - box.right)) < 4};
                    })""",
                )
                seen["rejected"] = page.eval_on_selector_all(
                    "table.rejected tr:has(td)",
                    "rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.textContent))",
                )
                seen["summary"] = page.eval_on_selector_all(
                    "table.summary tr:has(td)", "rows => rows.map(r => r.querySelector('td').textContent)"
                )
                seen["sales_entered"] = page.eval_on_selector_all(
                    "figure#machine-sales-ingest g.node.state.entered",
                    "nodes => nodes.map(g => g.querySelector('title').textContent)",
                )
                seen["text"] = page.inner_text("body")
                seen[f"overflow-{width}"] = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
                page.screenshot(path=str(shots / f"report-{width}.png"), full_page=False)
                for machine in ("sales-ingest", "customer-orders"):
                    figure = page.locator(f"figure#machine-{machine}")
                    figure.screenshot(path=str(shots / f"report-{machine}-{width}.png"))
                page.close()
        finally:
            browser.close()
    seen["errors"] = errors
    return seen


def test_the_report_of_real_runs_renders_every_state_machine_in_chromium(
    deploy: Any, deployer: Deployer, tmp_path: Path
) -> None:
    results = []
    # Every workflow: router has nested executions (three machines), sales a Distributed Map.
    for name in WORKFLOWS:
        stack = deploy(name)
        results.append(
            workflows()[name].load_runner()(deployer, stack, RunOptions(records=6, invalid_rate=0.3, seed=3))
        )
    SHOTS.mkdir(parents=True, exist_ok=True)
    report = write_report(SHOTS / "report.html", results, deployer)
    seen = open_report(report, SHOTS)

    assert seen["errors"] == [], f"expected no errors logged by the page, saw {seen['errors']}"
    assert seen["summary"] == list(WORKFLOWS), "a summary row per workflow at the top"
    machines = {p["machine"] for p in seen["pictures"]}
    assert machines == {
        "customer-orders",
        "sales-ingest",
        "data-processing",
        "etl-or-streaming",
        "streaming-branch",
        "etl-branch",
        "csv-etl",
    }
    for picture in seen["pictures"]:
        assert picture["nodes"] == picture["states"], f"expected a node per state, saw {picture}"
        assert picture["drawn"] == picture["states"], f"expected every state drawn with a size, saw {picture}"
        assert picture["width"] > 100, picture
        assert picture["height"] > 100, picture
        assert picture["width"] <= picture["frame"], f"expected the picture scaled into its frame, saw {picture}"
        assert picture["centred"], f"expected the picture centred in its frame, saw {picture}"
    aggregates = [p for p in seen["pictures"] if p["mode"] == "aggregate"]
    assert {p["machine"] for p in aggregates} == machines  # the children too: nested executions were followed
    for width in WIDTHS:
        assert not seen[f"overflow-{width}"], f"the page is wider than a {width} px window"
        assert (SHOTS / f"report-{width}.png").stat().st_size > 10_000

    rejected = seen["rejected"]
    expected_rejected = sum(len(result.details.get("rejected", [])) for result in results)
    assert expected_rejected > 0, "the runs rejected nothing: the seed or rate no longer makes bad records"
    assert len(rejected) == expected_rejected, f"expected a row per rejected record, saw {rejected}"
    assert all(record and reason and ended for record, reason, ended in rejected), rejected
    dead_lettered = [row for row in rejected if row[2] == "dead-letter queue"]
    assert dead_lettered, f"expected the sales records dead-lettered with their reasons, saw {rejected}"

    inside = {"ValidateBatch", "StoreValidOrders", "DeadLetterInvalidOrders", "SendToDeadLetterQueue", "BatchDone"}
    assert inside <= set(seen["sales_entered"]), (
        f"expected the sales map's inner states traced, saw {seen['sales_entered']}"
    )
    assert "not traced" not in seen["text"]
