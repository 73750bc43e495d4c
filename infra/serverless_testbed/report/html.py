"""The HTML report of `testbed run` and `testbed demo`: one self-contained file.

Everything is inline (styles and SVG pictures; no script, font or image is fetched), so
the file opens anywhere without a network. At the top, a summary: every workflow, its
verdict, the records that went in and where they ended. Per workflow: the record
accounting, each rejected record with its reason (collapsed when there are many),
timings, and per state machine the aggregate picture of the run (a Distributed Map's
child executions drawn inside the map), each distinct path with one example execution
(its picture, input and output), and the failures with their causes. In a run whose
every record ended as expected, failures are expected ones (a declined order) and are
drawn as such, not in alarm red. Each machine's aggregate picture is the target of the
links from Tasks that run it as a nested execution (`#machine-NAME`).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serverless_testbed.report.dot import Mode, Picture
from serverless_testbed.report.machines import DRAWING_CONTEXT, graphs
from serverless_testbed.report.nested import Iterations
from serverless_testbed.report.overlay import Overlay
from serverless_testbed.report.svg import inline_svg
from serverless_testbed.report.views import MachineView, PathGroup, execution_input, machine_views

if TYPE_CHECKING:
    from serverless_testbed.deploy import Deployer
    from serverless_testbed.executions import Execution
    from serverless_testbed.runs import RunResult
    from serverless_testbed.stack.model import Context

_LIMIT = 6000  # characters of an input or output shown; the rest is cut with a note
STYLE = """
body{font:14px/1.45 Helvetica,Arial,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#23303f;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
main{padding:8px 24px 40px;max-width:1600px;margin:0 auto}
section.workflow,section.summary{background:#fff;border:1px solid #dde1e6;border-radius:8px;
margin:18px 0;padding:6px 18px 14px}h2{margin:10px 0 4px}h3{margin:18px 0 6px;font-size:16px}
h4{margin:12px 0 4px;font-size:14px}.ok{color:#1d7a2e}.bad{color:#c0261b}.expected{color:#8a5a00}
table{border-collapse:collapse;margin:6px 0;max-width:100%}td,th{border:1px solid #dde1e6;padding:3px 8px;
text-align:left;vertical-align:top;overflow-wrap:break-word}th{background:#f0f2f5}td.n{text-align:right}
table.summary td,table.summary th{white-space:nowrap}table.summary td.ended{white-space:normal}
figure.picture{margin:10px 0;overflow:auto;border:1px solid #eceef1;border-radius:6px;padding:8px;
background:#fff;text-align:center}figure.picture svg{display:block;margin:0 auto;max-width:100%;
height:auto}
figcaption{font-size:12px;color:#555;margin-top:4px}pre{background:#f4f5f7;padding:8px;overflow:auto;
max-height:320px;font-size:12px;text-align:left}.path{font-family:monospace;font-size:12px;overflow-wrap:anywhere}
.note{color:#666;font-size:12px}nav a{color:#cfe0ff;margin-right:12px}details{margin:4px 0}
summary{cursor:pointer}
"""


def write_report(path: Path, results: list[RunResult], deployer: Deployer | None = None) -> Path:
    """Write the report of `results` to `path` and return its absolute path. With a deployer,
    nested executions are read from its engine and machines are matched in its context."""
    ctx = deployer.ctx if deployer else DRAWING_CONTEXT
    nested: list[Execution] = []
    iterations = Iterations()
    notes: list[str] = []
    if deployer is not None:
        from botocore.exceptions import BotoCoreError, ClientError
        from serverless_testbed.errors import TestbedError
        from serverless_testbed.report.nested import children, map_run_iterations

        parents = [e for result in results for e in result.executions]
        try:
            nested = children(deployer.clients, parents)
            iterations = map_run_iterations(deployer.clients, [*parents, *nested])
        except (TestbedError, OSError, ValueError, BotoCoreError, ClientError) as err:  # the parents still show
            notes.append(f"nested executions could not be read: {err}")
        if iterations.untraced:
            from serverless_testbed.settings import LOCALSTACK_VERSION

            notes.append(
                "this engine does not list the child executions of Distributed Map runs (a stock LocalStack "
                f"{LOCALSTACK_VERSION}): the states inside those maps are marked not traced"
            )
    page = render_page(results, ctx, nested, notes, iterations)
    path.write_text(page, encoding="utf-8")
    return path.resolve()


def render_page(
    results: list[RunResult],
    ctx: Context,
    nested: list[Execution],
    notes: list[str],
    iterations: Iterations | None = None,
) -> str:
    """The whole page."""
    from serverless_testbed.registry import stack_for

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    links = " ".join(f'<a href="#workflow-{_slug(r.workflow)}">{_e(r.workflow)}</a>' for r in results)
    body = [f"<header><h1>testbed report</h1><div>{_e(stamp)}</div><nav>{links}</nav></header><main>"]
    body += [f'<p class="note">{_e(note)}</p>' for note in notes]
    body.append(_summary(results))
    for result in results:
        stack = stack_for([result.workflow])
        views = machine_views(stack, graphs(stack, ctx), ctx, [*result.executions, *nested], iterations)
        started = {execution.arn for execution in result.executions}
        views.sort(key=lambda view: not any(e.arn in started for e in view.executions))  # the run's own first
        body.append(_workflow(result, views))
    body.append("</main>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>testbed report</title><style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _summary(results: list[RunResult]) -> str:
    """One row per workflow: verdict, records in, where they ended, executions, time."""
    rows = []
    for result in results:
        counts = list(result.counts.items())
        went_in = f"{counts[0][1]} {_words(counts[0][0])}" if counts else ""
        ended = ", ".join(f"{value} {_words(key)}" for key, value in counts[1:])
        verdict = '<span class="ok">as expected</span>' if result.ok else _problems(result)
        rows.append(
            "<tr>"
            f'<td><a href="#workflow-{_slug(result.workflow)}">{_e(result.workflow)}</a></td><td>{verdict}</td>'
            f'<td>{_e(went_in)}</td><td class="ended">{_e(ended)}</td>'
            f'<td class="n">{len(result.executions)}</td><td class="n">{result.seconds:.1f} s</td></tr>'
        )
    head = "".join(f"<th>{h}</th>" for h in ("workflow", "verdict", "in", "where they ended", "executions", "time"))
    return (
        f'<section class="summary" id="summary"><h2>Summary</h2>'
        f'<table class="summary"><tr>{head}</tr>{"".join(rows)}</table></section>'
    )


def _problems(result: RunResult) -> str:
    return f'<span class="bad">{len(result.problems)} problem(s)</span>'


def _workflow(result: RunResult, views: list[MachineView]) -> str:
    verdict = '<span class="ok">as expected</span>' if result.ok else _problems(result)
    run = f" (run {_e(result.run_id)})" if result.run_id else ""
    parts = [
        f'<section class="workflow" id="workflow-{_slug(result.workflow)}">',
        f"<h2>{_e(result.workflow)}{run}: {verdict}</h2>",
        f"<p>{len(result.executions)} execution(s) in {result.seconds:.1f} s</p>",
        "<h3>Records</h3>",
        _table([(_words(key), str(value)) for key, value in result.counts.items()], ("what", "count"), "accounting"),
    ]
    parts.append(_rejected(result))
    others = {key: value for key, value in result.details.items() if key != _rejected_key()}
    if others:
        parts.append(f"<details><summary>details</summary>{_json(others)}</details>")
    if result.problems:
        parts.append("<h3>Problems</h3><ul>" + "".join(f"<li>{_e(p)}</li>" for p in result.problems) + "</ul>")
    for view in views:
        parts.append(_machine(view, expected_failures=result.ok))
    parts.append("</section>")
    return "".join(parts)


_OPEN_UP_TO = 10  # rejected records listed open; more go into a collapsed <details>


def _rejected(result: RunResult) -> str:
    """The records the run saw rejected, each with its reason and where it ended."""
    rows = result.details.get(_rejected_key()) or []
    if not rows:
        return ""
    table = _table(
        [(str(row.get("record", "")), str(row.get("reason", "")), str(row.get("ended", ""))) for row in rows],
        ("record", "reason", "ended in"),
        "rejected",
    )
    title = f"Rejected records ({len(rows)})"
    if len(rows) <= _OPEN_UP_TO:
        return f"<h3>{title}</h3>{table}"
    return f'<h3>{title}</h3><details class="rejected"><summary>show all {len(rows)}</summary>{table}</details>'


def _rejected_key() -> str:
    from serverless_testbed.records import REJECTED  # imported late: records needs Faker

    return REJECTED


def _words(key: str) -> str:
    """A count's key in words: `invalid_files` -> `invalid files`, `apiAccepted` -> `api accepted`."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", key).replace("_", " ").lower()


def _machine(view: MachineView, expected_failures: bool = False) -> str:
    name = view.graph.name
    parts = [f"<h3>State machine {_e(name)}</h3>"]
    if not view.executions:
        parts.append('<p class="note">no execution of this machine in this run</p>')
        parts.append(_picture(Picture(view.graph, mode="plain"), f"machine-{_slug(name)}", "the definition"))
        return "".join(parts)
    aggregate = view.overlay
    caption = f"all {aggregate.executions} execution(s): entries per state, transitions taken (line width)"
    if aggregate.iterations:
        caption += f"; inside the Distributed Map, its {aggregate.iterations} child execution(s)"
    picture = Picture(view.graph, aggregate, "aggregate", expected_failures=expected_failures)
    parts.append(_picture(picture, f"machine-{_slug(name)}", caption))
    timings = view.timings()
    if timings:
        parts.append("<h4>Timings</h4>" + _table(list(timings.items()), ("what", "value"), "timings"))
    parts.append("<h4>Paths</h4>")
    for index, group in enumerate(view.paths):
        parts.append(_path(view, group, index, expected_failures))
    if view.failures:
        heading = "Failures (expected)" if expected_failures else "Failures"
        parts.append(f"<h4>{heading}</h4>" + _failures(view, aggregate))
    return "".join(parts)


def _path(view: MachineView, group: PathGroup, index: int, expected_failures: bool = False) -> str:
    example = group.example
    one: Overlay = view.overlay_of([example])
    status = "ok" if group.status == "SUCCEEDED" else "expected" if expected_failures else "bad"
    error = f" [{_e(group.error)}]" if group.error else ""
    if expected_failures and group.status != "SUCCEEDED":
        error += " (expected)"
    prefix = f"p{index}-"
    picture = _picture(
        Picture(view.graph, one, "path", id_prefix=prefix, expected_failures=expected_failures),
        f"path-{_slug(view.graph.name)}-{index}",
        f"example execution {example.arn.rsplit(':', 1)[-1]}",
    )
    return (
        f'<details class="path-group"{" open" if index == 0 else ""}><summary>{len(group.executions)} x '
        f'<span class="{status}">{_e(group.status)}</span>{error} <span class="path">'
        f"{_e(' > '.join(group.path))}</span></summary>{picture}"
        f"<p class='note'>{_e(example.arn)}</p>"
        f"<details><summary>input</summary>{_json(execution_input(example))}</details>"
        f"<details><summary>output</summary>{_json(example.output)}</details></details>"
    )


def _failures(view: MachineView, aggregate: Overlay) -> str:
    rows = []
    for execution in view.failures:
        found = view.trace(execution)
        rows.append(
            (
                execution.arn.rsplit(":", 1)[-1],
                found.failed_state or "?",
                execution.error or found.error or "",
                _cut(execution.cause or found.cause or "", 600),
            )
        )
    return _table(rows, ("execution", "failed in", "error", "cause"), "failures")


def _picture(picture: Picture, anchor: str, caption: str) -> str:
    states = len(picture.graph.states)
    mode: Mode = picture.mode
    return (
        f'<figure class="picture" id="{_e(anchor)}" data-machine="{_e(picture.graph.name)}" '
        f'data-states="{states}" data-mode="{mode}">{inline_svg(picture)}'
        f"<figcaption>{_e(picture.graph.name)}: {_e(caption)}</figcaption></figure>"
    )


def _table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...], css: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><tr>{head}</tr>{body}</table>'


def _json(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
    return f"<pre>{_e(_cut(text, _LIMIT))}</pre>"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}\n... ({len(text) - limit} more characters)"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
