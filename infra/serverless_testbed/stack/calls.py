"""An API call of a plan, as data: what each kind's create, update and delete return.

`Saved` values carry ids AWS chooses from one call of a change to the next; `Deferred`
values are looked up when the call runs (a layer version number AWS assigned in an
earlier change of the same deploy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Saved:
    """A value produced by an earlier call of the same change (an id AWS chooses)."""

    key: str
    template: str = "{}"

    def render(self, value: str) -> str:
        return self.template.format(value)

    def __repr__(self) -> str:
        return self.template.format(f"<{self.key}>")


@dataclass(frozen=True)
class Call:
    """One API call: `client(service).operation(**params)`, then an optional waiter.

    `save` keeps values of the response (key -> JMESPath) for later calls' `Saved`s.
    `gone_ok`: a deletion; "no such resource" means it is done (a half-done deploy or
    destroy, or a second destroy, meets things already gone).
    """

    service: str
    operation: str
    params: Mapping[str, Any] = field(default_factory=dict)
    save: Mapping[str, str] = field(default_factory=dict)
    waiter: str | None = None
    waiter_params: Mapping[str, Any] = field(default_factory=dict)
    gone_ok: bool = False
    # A step of the deployer's own instead of `client.operation`: `run(client, **params)`.
    run: Callable[..., Any] | None = field(default=None, compare=False)

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={short(v)}" for k, v in self.params.items())
        return f"{self.service}.{self.operation}({shown})"


def short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= width else f"{text[: width - 3]}..."


@dataclass(frozen=True)
class Deferred:
    """A value read from the target when the call runs: `lookup(clients)`."""

    what: str
    lookup: Callable[[Any], Any] = field(compare=False)

    def __repr__(self) -> str:
        return f"<{self.what}>"
