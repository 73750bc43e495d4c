"""The HTML report of real runs, opened in a real headless Chromium (the OS package, driven by
Playwright): every picture rendered with a node per state, nothing logged as an error, and a
screenshot saved under build/test-pictures/."""

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


def open_report(path: Path, screenshot: Path) -> dict[str, Any]:
    """Open `path` in headless Chromium; what each picture shows, the errors logged, a screenshot."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
            page.goto(path.as_uri(), wait_until="load")
            pictures = page.eval_on_selector_all(
                "figure.picture",
                """figures => figures.map(f => {
                    const svg = f.querySelector('svg');
                    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
                    return {machine: f.dataset.machine, mode: f.dataset.mode, states: Number(f.dataset.states),
                            nodes: svg ? svg.querySelectorAll('g.node.state').length : 0,
                            drawn: svg ? [...svg.querySelectorAll('g.node.state')].filter(
                                g => g.getBBox().width > 0 && g.getBBox().height > 0).length : 0,
                            width: box.width, height: box.height};
                })""",
            )
            page.screenshot(path=str(screenshot), full_page=False)
        finally:
            browser.close()
    return {"pictures": pictures, "errors": errors}


def test_the_report_of_real_runs_renders_every_state_machine_in_chromium(
    deploy: Any, deployer: Deployer, tmp_path: Path
) -> None:
    results = []
    for name in ("orders", "router"):  # router: nested executions, three machines
        stack = deploy(name)
        results.append(
            workflows()[name].load_runner()(deployer, stack, RunOptions(records=6, invalid_rate=0.3, seed=3))
        )
    report = write_report(tmp_path / "report.html", results, deployer)
    SHOTS.mkdir(parents=True, exist_ok=True)
    screenshot = SHOTS / "report-in-chromium.png"
    seen = open_report(report, screenshot)

    assert seen["errors"] == [], f"expected no errors logged by the page, saw {seen['errors']}"
    machines = {p["machine"] for p in seen["pictures"]}
    assert machines == {"customer-orders", "etl-or-streaming", "streaming-branch", "etl-branch"}, machines
    for picture in seen["pictures"]:
        assert picture["nodes"] == picture["states"], f"expected a node per state, saw {picture}"
        assert picture["drawn"] == picture["states"], f"expected every state drawn with a size, saw {picture}"
        assert picture["width"] > 100, picture
        assert picture["height"] > 100, picture
    aggregates = [p for p in seen["pictures"] if p["mode"] == "aggregate"]
    assert {p["machine"] for p in aggregates} == machines  # the children too: nested executions were followed
    assert screenshot.stat().st_size > 10_000
