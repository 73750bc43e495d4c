"""Pictures for the test suite: a failed test's executions, and the session's coverage.

Loaded with `-p serverless_testbed.report.pytest_pictures` (pyproject's addopts). Every execution a
test waits for through `serverless_testbed.executions.wait_execution` (the runners and most workflow
tests) is recorded with its machine's definition, and so are the nested executions it
started and the child executions of its Distributed Map runs (drawn inside the map).
When a test fails, a picture of the path of each execution it waited for is written, and
the failure message names the files. At the end of the session, one picture
per state machine shows the states and transitions the suite's executions entered, the
others marked red as not covered. Pictures go under `--testbed-pictures`
(default `build/test-pictures/` in the project).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from serverless_testbed.errors import TestbedError

if TYPE_CHECKING:
    from serverless_testbed.clients import Clients
    from serverless_testbed.executions import Execution
    from serverless_testbed.report.asl_graph import MachineGraph
    from serverless_testbed.report.overlay import Overlay

LOG = logging.getLogger(__name__)
OPTION = "--testbed-pictures"


@dataclass
class Recorder:
    """The executions the session waited for, by test, and the graphs of their machines."""

    folder: Path
    test: str = ""
    by_test: dict[str, list[Execution]] = field(default_factory=lambda: defaultdict(list))
    by_machine: dict[str, list[Execution]] = field(default_factory=lambda: defaultdict(list))
    graphs: dict[str, MachineGraph] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    iterations: dict[str, list[Execution]] = field(default_factory=dict)  # Distributed Map children by parent ARN
    untraced: set[str] = field(default_factory=set)  # parents whose map runs the engine could not list
    unsubscribe: Callable[[], None] | None = None

    def finished(self, clients: Clients, execution: Execution) -> None:
        """`serverless_testbed.executions` listener: remember `execution` and read the nested ones it started."""
        if execution.arn in self.seen:
            return
        self.seen.add(execution.arn)
        try:
            machine = self._graph(clients, execution.arn)
            if machine is None:
                return
            self.by_test[self.test].append(execution)
            self.by_machine[machine].append(execution)
            from serverless_testbed.executions import wait_execution
            from serverless_testbed.report.nested import child_arns, map_run_iterations

            found = map_run_iterations(clients, [execution])
            self.iterations.update(found.by_parent)
            self.untraced |= found.untraced

            for child in child_arns(execution):
                if child not in self.seen:
                    wait_execution(clients, child, timeout=30)  # comes back here through the listener
        except Exception:  # a picture is a help; it must never fail the test that waited
            LOG.exception("recording %s for pictures failed", execution.arn)

    def _graph(self, clients: Clients, execution_arn: str) -> str | None:
        """The machine's name (as deployed), its graph read from the engine once."""
        parts = execution_arn.split(":")
        if len(parts) < 8 or "/" in parts[6]:  # a Distributed Map's child: not a machine of its own
            return None
        name = parts[6]
        if name not in self.graphs:
            import json

            from serverless_testbed.report.asl_graph import machine_graph

            machine_arn = ":".join([*parts[:5], "stateMachine", name])
            described = clients("stepfunctions").describe_state_machine(stateMachineArn=machine_arn)
            self.graphs[name] = machine_graph(name, json.loads(described["definition"]))
        return name

    def path_pictures(self, test: str) -> list[Path]:
        """Pictures of the paths of the executions `test` waited for."""
        from serverless_testbed.report.dot import Picture
        from serverless_testbed.report.svg import render_svg

        written = []
        folder = self.folder / "failed" / _slug(test)
        for execution in self.by_test.get(test, []):
            name = self._machine_name(execution)
            graph = self.graphs[name]
            one = self.overlay(graph, [execution])
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{_slug(name)}--{_slug(execution.arn.rsplit(':', 1)[-1])}.svg"
            path.write_text(render_svg(Picture(graph, one, "path")), encoding="utf-8")
            written.append(path)
        return written

    def coverage_pictures(self) -> list[tuple[Path, int, int]]:
        """One picture per machine: what the session's executions entered; (file, entered, states)."""
        from serverless_testbed.report.dot import Picture
        from serverless_testbed.report.svg import render_svg

        folder = self.folder / "coverage"
        written = []
        for name, executions in sorted(self.by_machine.items()):
            graph = self.graphs[name]
            total = self.overlay(graph, executions)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{_slug(name)}.svg"
            path.write_text(render_svg(Picture(graph, total, "coverage")), encoding="utf-8")
            written.append((path, sum(1 for state in graph.states if total.states[state]), len(graph.states)))
        return written

    def overlay(self, graph: MachineGraph, executions: list[Execution]) -> Overlay:
        """What `executions`, and the child executions of their Distributed Map runs, did on `graph`."""
        from serverless_testbed.report.overlay import overlay

        return overlay(
            graph,
            (execution.history for execution in executions),
            (child.history for execution in executions for child in self.iterations.get(execution.arn, [])),
            sum(execution.arn in self.untraced for execution in executions),
        )

    def _machine_name(self, execution: Execution) -> str:
        return execution.arn.split(":")[6]


KEY = pytest.StashKey[Recorder]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--testbed-pictures DIR`: where the suite's pictures go."""
    parser.getgroup("testbed", "serverless testbed").addoption(
        OPTION, default=None, help="folder for pictures of failed tests' executions and coverage (build/test-pictures)"
    )


def pytest_configure(config: pytest.Config) -> None:
    """Start recording the executions the tests wait for."""
    from serverless_testbed.executions import on_finished

    chosen = config.getoption(OPTION, None)
    folder = Path(chosen) if chosen else config.rootpath / "build" / "test-pictures"
    recorder = Recorder(folder.resolve())
    if not hasattr(config, "workerinput"):  # a pytest-xdist worker must not remove what another drew
        for stale in (recorder.folder / "coverage").glob("*.svg"):  # a past session's machines had other names
            stale.unlink()
    recorder.unsubscribe = on_finished(recorder.finished)
    config.stash[KEY] = recorder


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop recording."""
    recorder = config.stash.get(KEY, None)
    if recorder is not None and recorder.unsubscribe is not None:
        recorder.unsubscribe()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Executions waited for from now on belong to this test."""
    item.config.stash[KEY].test = item.nodeid


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A failed test's report names the pictures of its executions' paths."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    recorder = item.config.stash.get(KEY, None)
    if recorder is None or not report.failed or report.when != "call" or not recorder.by_test.get(item.nodeid):
        return
    try:
        pictures = recorder.path_pictures(item.nodeid)
    except (TestbedError, OSError) as err:  # the test's own failure is what matters; say why no picture
        report.sections.append(("testbed execution pictures", f"could not draw the executions: {err}"))
        return
    lines = [f"the path of each execution this test waited for ({len(pictures)}):"]
    lines += [f"  {path}" for path in pictures]
    report.sections.append(("testbed execution pictures", "\n".join(lines)))


WORKER_OUTPUT = "testbed_pictures"
DRAWN_KEY = pytest.StashKey[list[dict[str, Any]]]()


def _draw(recorder: Recorder) -> dict[str, Any]:
    """Draw the coverage pictures: {"written": [[path, entered, states], ...], "error": why not, or None}."""
    if not recorder.by_machine:
        return {"written": [], "error": None}
    try:
        written = [[str(path), entered, states] for path, entered, states in recorder.coverage_pictures()]
    except (TestbedError, OSError) as err:
        return {"written": [], "error": f"state machine coverage pictures not drawn: {err}"}
    return {"written": written, "error": None}


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Draw the coverage pictures of the session's machines, for the summary. A pytest-xdist
    worker hands its list to the controller instead (the machines' names carry its session's
    prefix, so workers never write the same file)."""
    recorder = session.config.stash.get(KEY, None)
    if recorder is None:
        return
    drawn = _draw(recorder)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[WORKER_OUTPUT] = drawn
    else:
        session.config.stash.setdefault(DRAWN_KEY, []).append(drawn)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """The controller of a pytest-xdist run keeps what each worker drew, for the summary."""
    drawn = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
    if drawn:
        node.config.stash.setdefault(DRAWN_KEY, []).append(drawn)


@pytest.hookimpl(tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The coverage pictures drawn at the end of the session (here, or by the pytest-xdist workers)."""
    parts = config.stash.get(DRAWN_KEY, [])
    for part in parts:
        if part["error"]:
            terminalreporter.write_line(part["error"])
    written = sorted(tuple(entry) for part in parts for entry in part["written"])
    if not written:
        return
    terminalreporter.write_sep("-", "state machine pictures (states entered / states; uncovered marked red)")
    for path, entered, states in written:
        terminalreporter.write_line(f"{entered:>3}/{states:<3} {path}")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[-120:]
