"""The HTML report of `testbed run` and `testbed demo`: one self-contained file.

Everything is inline (styles and SVG pictures; no script, font or image is fetched), so
the file opens anywhere without a network. Per workflow: the verdict and the record
accounting, timings, and per state machine the aggregate picture of the run, each
distinct path with one example execution (its picture, input and output), and the
failures with their causes. Each machine's aggregate picture is the target of the links
from Tasks that run it as a nested execution (`#machine-NAME`).
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
main{padding:8px 24px 40px}section.workflow{background:#fff;border:1px solid #dde1e6;border-radius:8px;
margin:18px 0;padding:6px 18px 14px}h2{margin:10px 0 4px}h3{margin:18px 0 6px;font-size:16px}
h4{margin:12px 0 4px;font-size:14px}.ok{color:#1d7a2e}.bad{color:#c0261b}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #dde1e6;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f0f2f5}figure.picture{margin:8px 0;overflow:auto;border:1px solid #eceef1;
border-radius:6px;padding:6px;background:#fff}figure.picture svg{max-width:100%;height:auto}
figcaption{font-size:12px;color:#555}pre{background:#f4f5f7;padding:8px;overflow:auto;max-height:320px;
font-size:12px}.path{font-family:monospace;font-size:12px}.note{color:#666;font-size:12px}
nav a{color:#cfe0ff;margin-right:12px}details{margin:4px 0}
"""


def write_report(path: Path, results: list[RunResult], deployer: Deployer | None = None) -> Path:
    """Write the report of `results` to `path` and return its absolute path. With a deployer,
    nested executions are read from its engine and machines are matched in its context."""
    ctx = deployer.ctx if deployer else DRAWING_CONTEXT
    nested: list[Execution] = []
    notes: list[str] = []
    if deployer is not None:
        from serverless_testbed.errors import TestbedError
        from serverless_testbed.report.nested import children

        try:
            nested = children(deployer.clients, [e for result in results for e in result.executions])
        except (TestbedError, OSError, ValueError) as err:  # the report still shows the parents
            notes.append(f"nested executions could not be read: {err}")
    page = render_page(results, ctx, nested, notes)
    path.write_text(page, encoding="utf-8")
    return path.resolve()


def render_page(results: list[RunResult], ctx: Context, nested: list[Execution], notes: list[str]) -> str:
    """The whole page."""
    from serverless_testbed.registry import stack_for

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    links = " ".join(f'<a href="#workflow-{_slug(r.workflow)}">{_e(r.workflow)}</a>' for r in results)
    body = [f"<header><h1>testbed report</h1><div>{_e(stamp)}</div><nav>{links}</nav></header><main>"]
    body += [f'<p class="note">{_e(note)}</p>' for note in notes]
    for result in results:
        stack = stack_for([result.workflow])
        views = machine_views(stack, graphs(stack, ctx), ctx, [*result.executions, *nested])
        started = {execution.arn for execution in result.executions}
        views.sort(key=lambda view: not any(e.arn in started for e in view.executions))  # the run's own first
        body.append(_workflow(result, views))
    body.append("</main>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>testbed report</title><style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _workflow(result: RunResult, views: list[MachineView]) -> str:
    problems = f'<span class="bad">{len(result.problems)} problem(s)</span>'
    verdict = '<span class="ok">as expected</span>' if result.ok else problems
    run = f" (run {_e(result.run_id)})" if result.run_id else ""
    parts = [
        f'<section class="workflow" id="workflow-{_slug(result.workflow)}">',
        f"<h2>{_e(result.workflow)}{run}: {verdict}</h2>",
        f"<p>{len(result.executions)} execution(s) in {result.seconds:.1f} s</p>",
        "<h3>Records</h3>",
        _table([(key, str(value)) for key, value in result.counts.items()], ("what", "count"), "accounting"),
    ]
    if result.details:
        parts.append(f"<details><summary>details</summary>{_json(result.details)}</details>")
    if result.problems:
        parts.append("<h3>Problems</h3><ul>" + "".join(f"<li>{_e(p)}</li>" for p in result.problems) + "</ul>")
    for view in views:
        parts.append(_machine(view))
    parts.append("</section>")
    return "".join(parts)


def _machine(view: MachineView) -> str:
    name = view.graph.name
    parts = [f"<h3>State machine {_e(name)}</h3>"]
    if not view.executions:
        parts.append('<p class="note">no execution of this machine in this run</p>')
        parts.append(_picture(Picture(view.graph, mode="plain"), f"machine-{_slug(name)}", "the definition"))
        return "".join(parts)
    aggregate = view.overlay
    caption = f"all {aggregate.executions} execution(s): entries per state, transitions taken (line width)"
    parts.append(_picture(Picture(view.graph, aggregate, "aggregate"), f"machine-{_slug(name)}", caption))
    timings = view.timings()
    if timings:
        parts.append("<h4>Timings</h4>" + _table(list(timings.items()), ("what", "value"), "timings"))
    parts.append("<h4>Paths</h4>")
    for index, group in enumerate(view.paths):
        parts.append(_path(view, group, index))
    if view.failures:
        parts.append("<h4>Failures</h4>" + _failures(view, aggregate))
    return "".join(parts)


def _path(view: MachineView, group: PathGroup, index: int) -> str:
    example = group.example
    found = view.trace(example)
    one = Overlay().add(found)
    status = "ok" if group.status == "SUCCEEDED" else "bad"
    error = f" [{_e(group.error)}]" if group.error else ""
    prefix = f"p{index}-"
    picture = _picture(
        Picture(view.graph, one, "path", id_prefix=prefix),
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
