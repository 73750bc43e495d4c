"""Where `testbed run` and `testbed demo` keep their HTML reports: one per run, never overwritten.

    testbed-reports/
      sales-4456cecf.html      a run's report: the workflow and the run id
      demo-20261207-0312.html  a demo's report: every workflow of it
      index.html               every report kept here, newest first, with its verdict
      latest.html              a link to the newest report
      runs.jsonl               what index.html is made from, a line per report

Two runs at once each write their own report; the index is rewritten whole under a lock
and replaced in one step, so it never shows half a list.
"""

from __future__ import annotations

import fcntl
import html
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serverless_testbed.deploy import Deployer
    from serverless_testbed.runs import RunResult

FOLDER = Path("testbed-reports")
INDEX, LATEST, LEDGER = "index.html", "latest.html", "runs.jsonl"


def report_name(results: Sequence[RunResult], now: datetime) -> str:
    """`sales-4456cecf.html` for one run; `demo-20261207-031205.html` for several."""
    if len(results) == 1 and results[0].run_id:
        return f"{results[0].workflow}-{results[0].run_id}.html"
    return f"demo-{now:%Y%m%d-%H%M%S}.html"


def write_run_report(results: Sequence[RunResult], deployer: Deployer | None, folder: Path = FOLDER) -> Path:
    """Write the report of `results` into `folder` (made if missing) under its own name,
    list it in the folder's index and point `latest.html` at it; returns its path."""
    from serverless_testbed.report.html import write_report

    now = datetime.now(UTC)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / report_name(results, now)
    write_report(path, list(results), deployer)
    entry = {
        "file": path.name,
        "when": now.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "workflows": [result.workflow for result in results],
        "run_ids": [result.run_id for result in results],
        "ok": all(result.ok for result in results),
        "problems": sum(len(result.problems) for result in results),
    }
    with _locked(folder):
        with (folder / LEDGER).open("a", encoding="utf-8") as ledger:
            ledger.write(json.dumps(entry) + "\n")
        _replace(folder / INDEX, index_page(_entries(folder)))
        _link_latest(folder, path.name)
    return path


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with (folder / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _entries(folder: Path) -> list[dict[str, Any]]:
    """The ledger's reports still on disk, newest first (a line that cannot be read is skipped)."""
    entries = []
    for line in (folder / LEDGER).read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and (folder / str(entry.get("file"))).is_file():
            entries.append(entry)
    return entries[::-1]


def index_page(entries: list[dict[str, Any]]) -> str:
    """The index: one row per report, newest first."""
    rows = []
    for entry in entries:
        verdict = "as expected" if entry.get("ok") else f"{entry.get('problems', 0)} problem(s)"
        runs = ", ".join(
            f"{workflow} ({run_id})" if run_id else workflow
            for workflow, run_id in zip(entry.get("workflows", []), entry.get("run_ids", []), strict=False)
        )
        name = html.escape(str(entry["file"]))
        rows.append(
            f'<tr class="{"ok" if entry.get("ok") else "problems"}"><td>{html.escape(str(entry.get("when", "")))}</td>'
            f'<td><a href="{name}">{name}</a></td><td>{html.escape(runs)}</td><td>{html.escape(verdict)}</td></tr>'
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>testbed reports</title>'
        "<style>body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem}"
        "table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .6rem;"
        "border-bottom:1px solid #ddd}tr.problems td:last-child{color:#b00020}</style></head><body>"
        f"<h1>testbed reports</h1><p>{len(entries)} report(s), newest first; "
        f'<a href="{LATEST}">the latest</a>.</p><table><thead><tr><th>when</th><th>report</th><th>runs</th>'
        f"<th>verdict</th></tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>\n"
    )


def _replace(path: Path, text: str) -> None:
    """Write `path` whole in one step (a reader sees the old file or the new one)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _link_latest(folder: Path, name: str) -> None:
    """`latest.html` -> `name`, a relative link replaced in one step (a copy where links cannot be made)."""
    latest = folder / LATEST
    temporary = folder / f".{LATEST}.{os.getpid()}"
    try:
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(name)
    except OSError:  # a file system without symbolic links
        _replace(latest, (folder / name).read_text(encoding="utf-8"))
        return
    os.replace(temporary, latest)


def shown(path: Path) -> str:
    """`path` relative to the current folder when it lies under it (a short line), else absolute."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)
