"""The stack as data: frozen dataclasses describing every resource a workflow needs.

Resources are named by a short logical name (`orders-table`); the physical name adds
the deployment prefix (`tb-orders-table`) so that several runs share one engine or
account without colliding; a bucket's also adds the account and region
(`tb-csv-files-123456789012-eu-west-1`), S3 names being global (`serverless_testbed.stack.names`).
Values that depend on other resources (an ARN in an environment variable, a table name
in ASL) are written as `Ref`s and resolved against a `Context` (prefix, account,
region) when the stack is planned.

This module and the rest of `serverless_testbed.stack` need only the standard library and boto3:
the compose init hook deploys with the Python that ships inside the LocalStack image.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from serverless_testbed.packaging import code_sha256, zip_directory
from serverless_testbed.project import asl_dir, src_dir


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
class Resource:
    """Base of every resource: a logical name unique in the stack."""

    name: str

    kind = "resource"

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

    def refs(self) -> Iterator[Ref]:
        """The resources this one points at (used to check the stack is complete)."""
        return iter(())


@dataclass(frozen=True)
class Statement:
    """One IAM allow statement; `resources` are ARNs or Refs (their ARN is used)."""

    actions: tuple[str, ...]
    resources: tuple[Value, ...]


@dataclass(frozen=True)
class Role(Resource):
    """An IAM role assumed by one service principal, with one inline policy."""

    service: str = "lambda.amazonaws.com"
    statements: tuple[Statement, ...] = ()
    managed_policies: tuple[str, ...] = ()

    kind = "role"

    def arn(self, ctx: Context) -> str:
        return f"arn:{ctx.partition}:iam::{ctx.account}:role/{self.physical(ctx)}"

    def trust_policy(self) -> dict[str, Any]:
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": self.service},
                    "Action": "sts:AssumeRole",
                }
            ],
        }


@dataclass(frozen=True)
class GlobalIndex:
    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class Table(Resource):
    """A DynamoDB table, on demand; `attributes` maps key attribute names to S/N/B."""

    hash_key: str = "id"
    range_key: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    indexes: tuple[GlobalIndex, ...] = ()
    stream: str | None = None  # NEW_IMAGE, NEW_AND_OLD_IMAGES... or None

    kind = "table"

    def arn(self, ctx: Context) -> str:
        return ctx.arn("dynamodb", f"table/{self.physical(ctx)}")

    def attribute_type(self, attribute: str) -> str:
        return self.attributes.get(attribute, "S")


@dataclass(frozen=True)
class Notification:
    """An S3 event notification from a bucket to a Lambda function."""

    function: str
    prefix: str = ""
    suffix: str = ""
    events: tuple[str, ...] = ("s3:ObjectCreated:*",)


@dataclass(frozen=True)
class Bucket(Resource):
    """An S3 bucket; `eventbridge` sends its events to the default event bus."""

    eventbridge: bool = False
    notifications: tuple[Notification, ...] = ()

    kind = "bucket"

    def physical(self, ctx: Context) -> str:
        """S3 names are global across accounts: the account and region make this one ours alone."""
        return f"{ctx.name(self.name)}-{ctx.account}-{ctx.region}"

    def arn(self, ctx: Context) -> str:
        return f"arn:{ctx.partition}:s3:::{self.physical(ctx)}"

    def refs(self) -> Iterator[Ref]:
        return (Ref(n.function) for n in self.notifications)


@dataclass(frozen=True)
class Queue(Resource):
    """An SQS queue; dead-letter queues are plain queues that others point at."""

    visibility_timeout: int = 30
    retention_seconds: int = 1_209_600  # the maximum: rejected records are kept 14 days

    kind = "queue"

    def arn(self, ctx: Context) -> str:
        return ctx.arn("sqs", self.physical(ctx))

    def attribute(self, ctx: Context, attr: str) -> str:
        if attr == "url":
            return f"https://sqs.{ctx.region}.amazonaws.com/{ctx.account}/{self.physical(ctx)}"
        return super().attribute(ctx, attr)


@dataclass(frozen=True)
class Topic(Resource):
    """An SNS topic."""

    kind = "topic"

    def arn(self, ctx: Context) -> str:
        return ctx.arn("sns", self.physical(ctx))


@dataclass(frozen=True)
class Stream(Resource):
    """A Kinesis data stream. `created_by_workflow`: the workflow makes it at run time,
    so deploy leaves it alone and destroy removes it."""

    shards: int = 1
    created_by_workflow: bool = False

    kind = "stream"

    def arn(self, ctx: Context) -> str:
        return ctx.arn("kinesis", f"stream/{self.physical(ctx)}")


@dataclass(frozen=True)
class RuntimeTopic(Topic):
    """An SNS topic the workflow creates at run time; destroy removes it."""

    kind = "runtime-topic"


@dataclass(frozen=True)
class Function(Resource):
    """A Python Lambda function packaged from `src/<source>`.

    `grants` are the only permissions its role gets; environment values may be Refs.
    """

    source: str = ""
    handler: str = "handler.handler"
    environment: Mapping[str, Value] = field(default_factory=dict)
    timeout: int = 30
    memory: int = 256
    runtime: str = "python3.12"
    grants: tuple[Statement, ...] = ()
    architecture: str | None = None  # None: the target's (Context.architecture)

    kind = "function"

    def architectures(self, ctx: Context) -> list[str]:
        """Lambda's `Architectures` for this function where `ctx` deploys it."""
        return [self.architecture or ctx.architecture]

    def arn(self, ctx: Context) -> str:
        return ctx.arn("lambda", f"function:{self.physical(ctx)}")

    @property
    def role_name(self) -> str:
        return f"{self.name}-role"

    @cached_property
    def package(self) -> bytes:
        source = src_dir() / self.source  # the project root is resolved when the package is built
        if not source.is_dir():
            raise FileNotFoundError(f"function {self.name}: no source folder {source}")
        return zip_directory(source)

    @property
    def code_sha256(self) -> str:
        return code_sha256(self.package)

    def refs(self) -> Iterator[Ref]:
        yield from (v for v in self.environment.values() if isinstance(v, Ref))
        for statement in self.grants:
            yield from (r for r in statement.resources if isinstance(r, Ref))


@dataclass(frozen=True)
class Permission(Resource):
    """Allows a service (s3, apigateway, events) to invoke a function."""

    function: str = ""
    principal: str = "s3.amazonaws.com"
    source_arn: Value = ""

    kind = "permission"

    @property
    def statement_id(self) -> str:
        return f"testbed-{self.name}"

    def arn(self, ctx: Context) -> str:
        return f"{ctx.arn('lambda', 'function:' + ctx.name(self.function))}#{self.statement_id}"

    def refs(self) -> Iterator[Ref]:
        yield Ref(self.function)
        if isinstance(self.source_arn, Ref):
            yield self.source_arn


@dataclass(frozen=True)
class StateMachine(Resource):
    """A state machine from `asl/<asl>`; `${Key}` placeholders are filled from
    `substitutions`. Its role's policy is derived from the ASL itself; `grants` name the
    resources of calls whose parameters are computed at run time (BatchWriteItem's
    RequestItems), and only those."""

    asl: str = ""
    substitutions: Mapping[str, Value] = field(default_factory=dict)
    type: str = "STANDARD"
    grants: tuple[Statement, ...] = ()

    kind = "state-machine"

    def arn(self, ctx: Context) -> str:
        return ctx.arn("states", f"stateMachine:{self.physical(ctx)}")

    @property
    def role_name(self) -> str:
        return f"{self.name}-role"

    def template(self) -> str:
        path = asl_dir() / self.asl
        if not path.is_file():
            raise FileNotFoundError(f"state machine {self.name}: no ASL file {path}")
        return path.read_text()

    def refs(self) -> Iterator[Ref]:
        yield from (v for v in self.substitutions.values() if isinstance(v, Ref))
        for statement in self.grants:
            yield from (r for r in statement.resources if isinstance(r, Ref))


@dataclass(frozen=True)
class Rule(Resource):
    """An EventBridge rule on the default bus starting one state machine."""

    pattern: Mapping[str, Any] = field(default_factory=dict)
    target: str = ""  # a state machine's logical name
    input_path: str | None = None

    kind = "rule"

    def arn(self, ctx: Context) -> str:
        return ctx.arn("events", f"rule/{self.physical(ctx)}")

    @property
    def role_name(self) -> str:
        return f"{self.name}-role"

    def refs(self) -> Iterator[Ref]:
        yield Ref(self.target)


@dataclass(frozen=True)
class RestApi(Resource):
    """An API Gateway REST API: one `method` on `path`, proxied to a function, on `stage`."""

    path: str = "process-data"
    method: str = "POST"
    function: str = ""
    stage: str = "dev"

    kind = "rest-api"

    def arn(self, ctx: Context) -> str:
        return f"arn:{ctx.partition}:apigateway:{ctx.region}::/restapis/{self.physical(ctx)}"

    def refs(self) -> Iterator[Ref]:
        yield Ref(self.function)


def canonical_json(document: Any) -> str:
    """One spelling of a JSON document, so that equal documents compare equal."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))
