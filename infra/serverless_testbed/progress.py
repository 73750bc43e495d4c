"""Progress of long work (a run, a deploy, the benchmarks), as a person sees it.

On a terminal: rich progress bars, one per stage (what is done of how much, the rate, the
time left), each replaced by one line when its stage ends. Anywhere else (a CI log, a
pipe): plain lines, one when a stage ends and one every few seconds for the stages still
going, so a log shows the work moving and never holds a control character.

Runners get a `Progress` through `RunOptions.progress`; the default, `QUIET`, shows nothing
(tests and benchmarks call runners without one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import Task as RichTask

# Seconds between two plain lines of a stage still going (not a terminal).
LOG_INTERVAL_S = 5.0


class Stage(Protocol):
    """One stage of work: `advance` as items get done; `total` may be learnt on the way."""

    def advance(self, amount: int = 1) -> None: ...

    def update(self, *, completed: int | None = None, total: int | None = None) -> None: ...


class Progress(Protocol):
    """Where a run tells how far it got."""

    def stage(self, description: str, total: int | None = None, unit: str = "") -> AbstractContextManager[Stage]:
        """A stage of work from entering the block to leaving it."""
        ...

    def say(self, message: str) -> None:
        """One line above the stages going on (a fact worth keeping: a deploy made first)."""
        ...


class _NoStage:
    def advance(self, amount: int = 1) -> None:
        return None

    def update(self, *, completed: int | None = None, total: int | None = None) -> None:
        return None


class Quiet:
    """Shows nothing: what runners get when nobody watches (tests, benchmarks)."""

    def stage(self, description: str, total: int | None = None, unit: str = "") -> AbstractContextManager[Stage]:
        return nullcontext(_NoStage())

    def say(self, message: str) -> None:
        return None


QUIET = Quiet()


def amount(count: float, unit: str) -> str:
    """`12,345 records`; a plural unit is singular for one (`1 record`, `1 batch`)."""
    shown = f"{count:,.0f}"
    if shown == "1" and unit.endswith(("ches", "shes", "sses", "xes")):
        unit = unit[:-2]  # batches -> batch, addresses -> address
    elif shown == "1" and unit.endswith("s"):
        unit = unit[:-1]
    return f"{shown} {unit}".rstrip()


def rate(count: float, seconds: float, unit: str) -> str:
    """`1,234 records/s`, or "" while nothing can be said (a rate of a few items says nothing)."""
    if seconds <= 0 or count < 10:
        return ""
    per_second = count / seconds
    shown = f"{per_second:,.0f}" if per_second >= 10 else f"{per_second:.1f}"
    return f"{shown} {unit or 'items'}/s"


def clock(seconds: float) -> str:
    """`0.4 s`, `12 s`, `3 min 05 s`."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


@dataclass
class _Counted:
    """A stage counted here (for the plain lines)."""

    description: str
    total: int | None
    unit: str
    completed: int = 0
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # advanced from worker threads
    said: float = field(default_factory=time.monotonic)  # when a plain line last told of it

    def advance(self, amount: int = 1) -> None:
        with self.lock:
            self.completed += amount

    def update(self, *, completed: int | None = None, total: int | None = None) -> None:
        with self.lock:
            if completed is not None:
                self.completed = completed
            if total is not None:
                self.total = total

    def line(self, done: bool) -> str:
        """The stage in one line: `sales: records sent 5,000 of 20,000 (2,500 records/s, about 6 s left)`."""
        elapsed = time.monotonic() - self.started
        if done:
            counted = amount(self.completed, self.unit) + " " if self.completed else ""
            speed = rate(self.completed, elapsed, self.unit)
            return f"{self.description}: {counted}done in {clock(elapsed)}" + (f" ({speed})" if speed else "")
        if self.total is None and not self.completed:  # nothing counted: how long it has been going
            return f"{self.description}: {clock(elapsed)} so far"
        of = f" of {amount(self.total, self.unit)}" if self.total is not None else f" {self.unit}".rstrip()
        notes = [rate(self.completed, elapsed, self.unit)]
        if self.total and self.completed:
            left = (self.total - self.completed) * elapsed / self.completed
            notes.append(f"about {clock(left)} left")
        notes.append(f"{clock(elapsed)} so far")
        return f"{self.description}: {self.completed:,}{of} ({', '.join(note for note in notes if note)})"


class PlainLines:
    """Progress as plain lines (not a terminal): a line when a stage ends, and one per
    stage still going `interval` seconds after it started or was last told of."""

    def __init__(self, console: Console, interval: float = LOG_INTERVAL_S) -> None:
        self.console, self.interval = console, interval
        self.stages: list[_Counted] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.ticker = threading.Thread(target=self._tick, name="progress-lines", daemon=True)
        self.ticker.start()

    def _print(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def _tick(self) -> None:
        """Every stage going on for `interval` seconds since it started or was last told of, in a line."""
        while not self.stopped.wait(self.interval / 5):  # a ticker, not a wait for a condition
            now, lines = time.monotonic(), []
            with self.lock:
                for stage in self.stages:
                    if now - stage.said >= self.interval:
                        stage.said = now
                        lines.append(stage.line(done=False))
            for line in lines:
                self._print(line)

    @contextmanager
    def stage(self, description: str, total: int | None = None, unit: str = "") -> Iterator[Stage]:
        counted = _Counted(description, total, unit)
        with self.lock:
            self.stages.append(counted)
        try:
            yield counted
        finally:
            with self.lock:
                self.stages.remove(counted)
        self._print(counted.line(done=True))

    def say(self, message: str) -> None:
        self._print(message)

    def close(self) -> None:
        self.stopped.set()
        self.ticker.join()


def _columns() -> list[object]:
    """Spinner, what, bar, `5,000/20,000`, `2,500/s`, `6 s left`, elapsed: the unit is in the
    stage's closing line, so that a bar fits 80 columns."""
    from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Column
    from rich.text import Text

    class Counts(ProgressColumn):
        """`5,000/20,000`, or `5,000` while the total is not known."""

        def render(self, task: RichTask) -> Text:
            if task.total is None:
                return Text(f"{task.completed:,.0f}" if task.completed else "", style="progress.download")
            return Text(f"{task.completed:,.0f}/{task.total:,.0f}", style="progress.download")

    class Speed(ProgressColumn):
        """`2,500/s`, from rich's own moving estimate."""

        def render(self, task: RichTask) -> Text:
            speed = task.speed
            shown = "" if not speed else f"{speed:,.0f}/s" if speed >= 10 else f"{speed:.1f}/s"
            return Text(shown, style="progress.data.speed")

    class Left(ProgressColumn):
        """`6 s left` once a rate is known."""

        def render(self, task: RichTask) -> Text:
            left = task.time_remaining
            return Text(f"{clock(left)} left" if left is not None and task.total else "", style="progress.remaining")

    return [
        SpinnerColumn(),
        TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=3)),
        BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=6)),
        Counts(table_column=Column(no_wrap=True)),
        Speed(table_column=Column(no_wrap=True)),
        Left(table_column=Column(no_wrap=True)),
        TimeElapsedColumn(table_column=Column(no_wrap=True)),
    ]


class Bars:
    """Progress as rich bars on a terminal; a finished stage leaves one line."""

    def __init__(self, console: Console) -> None:
        from rich.progress import Progress as RichProgressClass

        self.console = console
        self.bars: RichProgress = RichProgressClass(*_columns(), console=console, transient=True)  # type: ignore[arg-type]
        self.bars.start()

    @contextmanager
    def stage(self, description: str, total: int | None = None, unit: str = "") -> Iterator[Stage]:
        task_id = self.bars.add_task(description, total=total, unit=unit)
        counted = _Counted(description, total, unit)
        bars = self.bars

        class Bar:
            def advance(self, amount: int = 1) -> None:
                counted.advance(amount)
                bars.advance(task_id, amount)

            def update(self, *, completed: int | None = None, total: int | None = None) -> None:
                counted.update(completed=completed, total=total)
                bars.update(task_id, completed=completed, total=total)

        try:
            yield Bar()
        finally:
            self.bars.remove_task(task_id)
        self.console.print(f"[dim]{_escape(counted.line(done=True))}[/dim]", highlight=False)

    def say(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False)

    def close(self) -> None:
        self.bars.stop()


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@contextmanager
def shown_on(console: Console, interval: float = LOG_INTERVAL_S) -> Iterator[Progress]:
    """Progress for `console`: bars on a terminal, plain lines elsewhere; stopped on leaving."""
    shown: Bars | PlainLines = Bars(console) if console.is_terminal else PlainLines(console, interval)
    try:
        yield shown
    finally:
        shown.close()
