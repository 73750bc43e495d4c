"""One switch for the target: settings read once from the environment.

An explicit argument beats the environment variable, which beats the default.
Only the standard library is imported here: the compose init hook reads its settings
with the LocalStack image's Python.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal, get_args

from serverless_testbed.aws_profile import profile_region
from serverless_testbed.errors import BadInput

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

# 16: the longest bucket, `<prefix>-subscription-data-<12-digit account>-<region>`, then
# fits S3's 63 characters even in a 15-character region (us-isof-south-1).
MAX_PREFIX = 16
# Also the template's `Prefix` AllowedPattern (Java regex there, Python here; both have lookahead).
PREFIX_PATTERN = rf"(?!xn--|sthree-|amzn-s3-demo-)[a-z](?:[a-z0-9-]{{0,{MAX_PREFIX - 2}}}[a-z0-9])?"
# S3 keeps these starts for itself; a bucket named so is refused.
RESERVED_STARTS = ("xn--", "sthree-", "amzn-s3-demo-")


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
        check_prefix(self.prefix)  # every name is derived from it: refused here, before anything is called

    @property
    def is_emulator(self) -> bool:
        return self.target in EMULATOR_TARGETS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: str | None) -> "Settings":
        """Read TESTBED_* and AWS_* variables; keyword arguments that are not None win.

        The region is boto3's: AWS_REGION, AWS_DEFAULT_REGION, then the active profile's
        `region` in the shared AWS files, and only then DEFAULT_REGION."""
        env = os.environ if environ is None else environ
        values: dict[str, str | None] = {
            "target": env.get("TESTBED_TARGET") or "embedded",
            "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or profile_region(env) or DEFAULT_REGION,
            "endpoint_url": env.get("AWS_ENDPOINT_URL") or None,
            "prefix": env.get("TESTBED_PREFIX") or DEFAULT_PREFIX,
            "account_id": env.get("TESTBED_ACCOUNT_ID") or None,
            "image": env.get("TESTBED_IMAGE") or LOCALSTACK_IMAGE,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]

    def with_endpoint(self, endpoint_url: str) -> "Settings":
        return replace(self, endpoint_url=endpoint_url)


def check_prefix(prefix: str) -> str:
    """`prefix` if every name derived from it is valid; else BadInput saying which rule it breaks."""
    problem = prefix_problem(prefix)
    if problem:
        raise BadInput(
            f"prefix {prefix!r} {problem}; a prefix is 1 to {MAX_PREFIX} lower-case letters, digits and "
            f"hyphens, starting with a letter and not ending with a hyphen (S3 bucket names derive from it)"
        )
    return prefix


def prefix_problem(prefix: str) -> str | None:
    """What is wrong with `prefix`, in words, or None."""
    if not prefix:
        return "is empty"
    if len(prefix) > MAX_PREFIX:
        return f"is {len(prefix)} characters long, more than {MAX_PREFIX}"
    if bad := sorted(set(re.sub(r"[a-z0-9-]", "", prefix))):
        return f"holds {''.join(bad)!r}, not allowed in S3 bucket names"
    if not prefix[0].isalpha():
        return "does not start with a letter"
    if prefix.endswith("-"):
        return "ends with a hyphen"
    for start in RESERVED_STARTS:
        if prefix.startswith(start):
            return f"starts with {start!r}, which S3 reserves"
    if not re.fullmatch(PREFIX_PATTERN, prefix):  # the rules above are this pattern, in words
        return "does not match " + PREFIX_PATTERN
    return None
