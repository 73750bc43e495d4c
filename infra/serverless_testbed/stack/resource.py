"""What every resource kind is: a frozen dataclass that knows its names, what it refers to,
its desired state, how to read itself back, the calls that create, update and delete it,
the policy statements it implies and its CloudFormation form.

Each kind is one module of `serverless_testbed.stack.kinds`, registered there; the
planner, executor, policy derivation and CloudFormation export go through the methods
below and name no kind. Resources are named by a short logical name (`orders-table`);
the physical name adds the deployment prefix (`tb-orders-table`) so that several runs
share one engine or account without colliding (a bucket's adds the account and region
too, S3 names being global). Values that depend on other resources (an ARN in an
environment variable, a table name in ASL) are written as `Ref`s and resolved against a
`Context` (prefix, account, region) when the stack is planned.

This package needs only the standard library and boto3: the compose init hook deploys
with the Python that ships inside the LocalStack image.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from serverless_testbed.clients import Clients
    from serverless_testbed.stack.calls import Call
    from serverless_testbed.stack.stack import Stack

State = dict[str, Any]
Document = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """Where a stack is deployed: names and ARNs are computed from this alone."""

    prefix: str
    account: str
    region: str
    partition: str = "aws"
    # What functions that declare no architecture run on: explicit x86_64 on AWS, the
    # host's own on emulators (no amd64 emulation on Apple Silicon).
    architecture: str = "x86_64"

    def name(self, logical: str) -> str:
        return f"{self.prefix}-{logical}"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account if account else ''}:{resource}"
        )


ARCHITECTURES = ("x86_64", "arm64")


def host_architecture() -> str:
    """The Lambda architecture of this machine's CPU."""
    return "arm64" if platform.machine().lower() in ("arm64", "aarch64") else "x86_64"


@dataclass(frozen=True)
class Ref:
    """A value taken from another resource at plan time: its `name`, `arn` or `url`,
    followed by `suffix` (`Ref("bucket", suffix="/*")` is every object of a bucket)."""

    resource: str
    attr: str = "arn"
    suffix: str = ""


Value = str | Ref


@dataclass(frozen=True)
class Statement:
    """One IAM allow statement; `resources` are ARNs or Refs (their ARN is used)."""

    actions: tuple[str, ...]
    resources: tuple[Value, ...]


def allow(actions: Iterable[str], resources: Iterable[str]) -> Document:
    """One Allow statement, its actions and resources sorted and each named once."""
    return {"Effect": "Allow", "Action": sorted(set(actions)), "Resource": sorted(set(resources))}


def canonical_json(document: Any) -> str:
    """One spelling of a JSON document, so that equal documents compare equal."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Resource:
    """Base of every resource kind: a logical name unique in the stack.

    A kind sets the class attributes and overrides the methods that apply to it; the
    defaults are those of a resource that refers to nothing, implies nothing and has no
    state worth comparing."""

    name: str

    kind: ClassVar[str] = "resource"
    # The boto3 services `read` uses (their clients are made before reads run concurrently).
    services: ClassVar[tuple[str, ...]] = ()
    # What AWS calls this resource and the longest name it accepts (None: no limit to check).
    name_limit: ClassVar[tuple[str, int] | None] = None
    # Holds data: its CloudFormation form keeps nothing on delete, said explicitly.
    stateful: ClassVar[bool] = False
    # The service principal that assumes a role of this resource's own (`role_name`), if
    # it has one: the role kind then adds that role to the stack.
    role_service: ClassVar[str | None] = None

    # -- names --------------------------------------------------------------------------
    def physical(self, ctx: Context) -> str:
        return ctx.name(self.name)

    def arn(self, ctx: Context) -> str:
        raise NotImplementedError

    def attribute(self, ctx: Context, attr: str) -> str:
        if attr == "name":
            return self.physical(ctx)
        if attr == "arn":
            return self.arn(ctx)
        raise KeyError(f"{self.kind} {self.name} has no attribute {attr!r}")

    # -- the stack's shape ---------------------------------------------------------------
    def refs(self) -> Iterator[Ref]:
        """Every resource this one points at (the stack checks they exist; creation
        follows them where they form no cycle)."""
        return iter(())

    def depends_on(self, stack: Stack) -> set[str]:
        """The logical names that must exist before this one can be created (AWS checks
        them on creation); these alone may not form a cycle."""
        return set()

    @property
    def role_name(self) -> str:
        """The logical name of its own role (when `role_service` says it has one)."""
        return f"{self.name}-role"

    def invokes(self) -> Iterable[tuple[str, str, str, Value]]:
        """(permission name, function, service principal, source ARN) for each function
        this resource invokes by the function's resource policy: the permission kind adds
        each to the stack."""
        return ()

    @classmethod
    def implied_by(cls, resource: Resource) -> Iterable[Resource]:
        """Resources of this kind that `resource` implies (a role, a permission), which the
        stack adds to what was declared."""
        return ()

    @property
    def made_at_run_time(self) -> bool:
        """Made by a workflow when it runs: deploy leaves it, destroy removes it, the
        CloudFormation template names it only in its Outputs."""
        return False

    # -- policies ------------------------------------------------------------------------
    def role_statements(self, stack: Stack, ctx: Context) -> Iterator[tuple[str, Document]]:
        """(role logical name, statement) for every permission this resource needs some
        role to have: its own role's, or the role of a function it feeds."""
        return iter(())

    def resource_policy_statements(self, stack: Stack, ctx: Context) -> Iterator[tuple[str, Document]]:
        """(resource logical name, statement) for every statement this resource needs in
        another's resource policy (a topic sending to a queue)."""
        return iter(())

    def trust_source_arn(self, ctx: Context) -> str | None:
        """The `aws:SourceArn` its own role's trust policy is limited to, if AWS recommends one."""
        return None

    # -- deploy --------------------------------------------------------------------------
    def desired(self, stack: Stack, ctx: Context) -> State:
        """The flat state the planner compares with `read`'s (keys starting with `_` are
        facts about the existing resource, never compared)."""
        return {}

    def read(self, clients: Clients, ctx: Context) -> State | None:
        """What the target has, in `desired`'s shape; None (or a not-found error) when absent."""
        raise NotImplementedError

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        raise NotImplementedError

    def update(self, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
        raise NotImplementedError(f"{self.kind} {self.name} cannot be changed in place")

    def delete(self, ctx: Context, current: State) -> list[Call]:
        raise NotImplementedError

    def empty(self, clients: Clients, ctx: Context) -> int | None:
        """Delete the data it holds, keep the resource (a reused engine's reset); how many
        items went, or None when it holds no data or cannot count them."""
        return None

    # -- CloudFormation ------------------------------------------------------------------
    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        """`{"Type": ..., property: value...}`; an `_extra` key holds further template
        resources by logical id (an API's methods)."""
        raise NotImplementedError(f"no CloudFormation form for {self.kind}")

    def outputs(self, ctx: Context, key: str) -> dict[str, Any]:
        """The template's Outputs for this resource (`key` is its logical id)."""
        return {}

    def teardown(self, output: Any, key: str) -> list[str]:
        """Shell lines run before the stack is deleted (`output(name)` reads an Output)."""
        return []
