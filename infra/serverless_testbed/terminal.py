"""What the command line prints, fitted to where it goes.

On a terminal, lines wrap at words within its width and tables are drawn when they fit.
Anywhere else (a CI log, a pipe, a file) a line is never broken: a log line is one fact,
whatever COLUMNS says, and what would be a table is a list of `name: value` lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

# Count names are keys in code (`api_accepted`); a person reads words ("API accepted").
ACRONYMS = {"api": "API", "sns": "SNS", "sqs": "SQS", "etl": "ETL", "s3": "S3", "http": "HTTP"}


class FittedConsole(Console):
    """A rich console that never breaks a line where no terminal shows it."""

    def print(self, *objects: Any, soft_wrap: bool | None = None, **options: Any) -> None:
        if soft_wrap is None:
            soft_wrap = not self.is_terminal
        super().print(*objects, soft_wrap=soft_wrap, **options)


def label(key: str) -> str:
    """A count's key in words: `invalid_files` -> "invalid files", `api_accepted` -> "API accepted"."""
    return " ".join(ACRONYMS.get(word, word) for word in key.split("_"))


def counts_text(counts: Mapping[str, int]) -> str:
    """`files 2, invalid files 1, rows 50`: every count with its name in words."""
    return ", ".join(f"{label(key)} {value:,}" for key, value in counts.items())


def fits(console: Console, renderable: RenderableType) -> bool:
    """Whether `renderable` shows at its natural width on this console's terminal (never
    where no terminal shows it)."""
    if not console.is_terminal:
        return False
    return console.measure(renderable).maximum <= console.width


def key_values(console: Console, title: str, rows: Iterable[tuple[str, str]]) -> RenderableType:
    """Rows of (what, value): a table when it fits the terminal, else `what: value` lines."""
    rows = list(rows)
    table = Table(title=title, show_header=False)
    table.add_column("what", no_wrap=True)
    table.add_column("value")
    for what, value in rows:
        table.add_row(what, value)
    if fits(console, table):
        return table
    return Text("\n".join([f"{title}:", *(f"  {what}: {value}" for what, value in rows)]))


def table_or_lines(console: Console, table: Table, lines: Iterable[str]) -> RenderableType:
    """`table` when it fits the terminal, else `lines` (the same facts, one per line)."""
    return table if fits(console, table) else Text("\n".join(lines))


def hanging(console: Console, lead: str, text: str) -> RenderableType:
    """`lead` then `text`; on a terminal `text` wraps at its spaces, its lines indented
    under its start (so a long path of states stays within the width)."""
    if not console.is_terminal or len(lead) + len(text) <= console.width:
        return Text(lead + text)
    grid = Table.grid()
    grid.add_column(no_wrap=True)
    grid.add_column()
    grid.add_row(Text(lead), Text(text))
    return grid
