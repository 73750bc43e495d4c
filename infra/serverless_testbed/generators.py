"""Seeded Faker generators: the same seed gives the same data, with a share of bad
records, and every record carries its expected outcome.

The data kinds are the workflows: `KINDS` maps each workflow's name to its generator
(records, invalid_rate, seed, *, run_id=None) -> list[Generated], and `RENDERERS` the
workflows whose data is a file to their renderer, both derived from the workflow
registry (`infra.workflows`). A run id goes into every generated id (see
`serverless_testbed.records`). `dump` gives the text `testbed fixtures` prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol

from serverless_testbed import registry
from serverless_testbed.records import Expected, Generated
from serverless_testbed.workflow import load


class Generator(Protocol):
    def __call__(
        self, records: int, invalid_rate: float, seed: int, *, run_id: str | None = None
    ) -> list[Generated]: ...


def kinds() -> dict[str, Generator]:
    """Every workflow's generator, by workflow name (imported when asked for)."""
    return {name: workflow.load_generator() for name, workflow in registry.workflows().items()}


def renderers() -> dict[str, Callable[[list[Generated], str], str]]:
    """The renderer of every workflow whose data is a file, by workflow name."""
    return {name: load(workflow.renderer) for name, workflow in registry.workflows().items() if workflow.renderer}


def generate(kind: str, records: int, invalid_rate: float, seed: int, run_id: str | None = None) -> list[Generated]:
    """The generated records of `kind` (ids scoped to `run_id` when given); ValueError
    names the known kinds."""
    known = kinds()
    if kind not in known:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(sorted(known))}")
    return known[kind](records, invalid_rate, seed, run_id=run_id)


def dump(kind: str, records: int, invalid_rate: float, seed: int, fmt: str = "json", run_id: str | None = None) -> str:
    """The text a CLI prints for `kind`.

    Record kinds (orders, processing) give a JSON array of {"record": ..., "expected":
    {"valid": ..., "reasons": [...]}}; `fmt` does not apply to them. File kinds (sales,
    router, csv-etl) give the file itself in `fmt` (sales: "json" or "csv"), which has
    no room for labels: their expected outcomes come from `expectations` called with the
    same kind, records, invalid_rate and seed (line n of it is record n of the file), e.g.
    written beside the file as a sidecar `<file>.expected.jsonl`.
    """
    generated = generate(kind, records, invalid_rate, seed, run_id)
    renderer = renderers().get(kind)
    if renderer is not None:
        return renderer(generated, fmt)
    return json.dumps([item.as_dict() for item in generated], indent=1, default=str)


def expectations(kind: str, records: int, invalid_rate: float, seed: int, run_id: str | None = None) -> str:
    """The expected outcome of every record, as JSON lines, in file order (for file kinds)."""
    generated = generate(kind, records, invalid_rate, seed, run_id)
    return "\n".join(json.dumps(item.as_dict(), default=str) for item in generated)


__all__ = ["Expected", "Generated", "dump", "expectations", "generate", "kinds", "renderers"]
