"""One switch for the target: settings read once from the environment.

An explicit argument beats the environment variable, which beats the default.
Only the standard library is imported here: the compose init hook reads its settings
with the LocalStack image's Python.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal, get_args

from infra.errors import BadInput

Target = Literal["embedded", "compose", "container", "endpoint", "aws"]
TARGETS: tuple[str, ...] = get_args(Target)
EMULATOR_TARGETS = ("embedded", "compose", "container", "endpoint")
# The last LocalStack release that runs without an auth token; pyproject.toml pins
# localstack-core to it and compose.yaml's image to its tag (tests check both agree).
LOCALSTACK_VERSION = "4.14.0"
LOCALSTACK_IMAGE = f"localstack/localstack:{LOCALSTACK_VERSION}"
DEFAULT_REGION = "us-east-1"
DEFAULT_PREFIX = "tb"
COMPOSE_ENDPOINT = "http://localhost:4566"


@dataclass(frozen=True)
class Settings:
    """Where the testbed runs and how resources are named."""

    target: str = "embedded"
    region: str = DEFAULT_REGION
    endpoint_url: str | None = None
    prefix: str = DEFAULT_PREFIX
    account_id: str | None = None
    image: str = LOCALSTACK_IMAGE

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise BadInput(f"unknown target {self.target!r}; choose one of {', '.join(TARGETS)}")

    @property
    def is_emulator(self) -> bool:
        return self.target in EMULATOR_TARGETS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: str | None) -> "Settings":
        """Read TESTBED_* and AWS_* variables; keyword arguments that are not None win."""
        env = os.environ if environ is None else environ
        values: dict[str, str | None] = {
            "target": env.get("TESTBED_TARGET") or "embedded",
            "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            "endpoint_url": env.get("AWS_ENDPOINT_URL") or None,
            "prefix": env.get("TESTBED_PREFIX") or DEFAULT_PREFIX,
            "account_id": env.get("TESTBED_ACCOUNT_ID") or None,
            "image": env.get("TESTBED_IMAGE") or LOCALSTACK_IMAGE,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]

    def with_endpoint(self, endpoint_url: str) -> "Settings":
        return replace(self, endpoint_url=endpoint_url)
