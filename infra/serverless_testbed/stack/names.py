"""What a deployed name may be: each service's length limit.

A physical name is `<prefix>-<logical>` (buckets add `-<account>-<region>`, S3 names
being global). The prefix is checked when settings are read (`serverless_testbed.settings.check_prefix`),
so that every name derived from it keeps to the strictest service's characters (S3:
lower-case letters, digits, hyphens) and, for the registered workflows, fits every limit
(`tests/unit/stack/test_names.py` checks the longest prefix in the longest region).
Each kind's `name_limit` is its service's limit; `check_names` checks the names of any
stack where it is deployed (`Deployer.plan`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from serverless_testbed.errors import BadInput


class Named(Protocol):
    """A resource of the model, as far as naming goes."""

    @property
    def name_limit(self) -> tuple[str, int] | None: ...

    def physical(self, ctx: Any) -> str: ...


def name_problems(resources: Iterable[Named], ctx: Any) -> list[str]:
    """Each deployed name longer than its service allows, in words."""
    problems = []
    for resource in resources:
        if resource.name_limit is None:
            continue
        service, limit = resource.name_limit
        name = resource.physical(ctx)
        if len(name) > limit:
            problems.append(f"{service} name {name!r} is {len(name)} characters long, more than {limit}")
    return problems


def check_names(resources: Iterable[Named], ctx: Any) -> None:
    """BadInput naming every deployed name its service would refuse for being too long."""
    problems = name_problems(resources, ctx)
    if problems:
        raise BadInput("; ".join(problems) + "; choose a shorter --prefix")
