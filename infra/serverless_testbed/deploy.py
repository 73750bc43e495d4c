"""Deploy, plan and destroy the stack on any target.

    python -m serverless_testbed.deploy            # deploy every workflow to $AWS_ENDPOINT_URL (compose init hook)
    python -m serverless_testbed.deploy --plan     # print the calls it would make
    python -m serverless_testbed.deploy --destroy  # remove what it made
    python -m serverless_testbed.deploy --target aws --account-id 123456789012   # real AWS, after the guard

Without an endpoint set (AWS_ENDPOINT_URL) it refuses: the calls would go to real AWS.

Only boto3 and the standard library are needed here, so the LocalStack container's own
Python can run it. The CLI (`testbed deploy`) calls the same functions. Region, endpoint
and prefix come from `serverless_testbed.settings.Settings.from_env`, as for the CLI.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.errors import DeployError, TestbedError
from serverless_testbed.registry import stack_for, workflows
from serverless_testbed.settings import Settings
from serverless_testbed.stack.executor import apply
from serverless_testbed.stack.model import Context, Resource, host_architecture
from serverless_testbed.stack.names import check_names
from serverless_testbed.stack.planner import Change, destroy_plan, plan
from serverless_testbed.stack.remote import BotoRemote
from serverless_testbed.stack.stack import Stack


@dataclass
class Deployer:
    """Plans and applies a stack with clients from one boto3 session (injected in tests)."""

    clients: Clients
    ctx: Context

    @classmethod
    def connect(
        cls, prefix: str, region: str | None = None, endpoint_url: str | None = None, session: Any = None
    ) -> Deployer:
        """A deployer on clients of one boto3 session (a new one unless given)."""
        import boto3  # here, not at the top: `testbed --help` must not pay for importing boto3
        from botocore.config import Config

        session = session or boto3.session.Session(region_name=region)
        region = region or session.region_name or "us-east-1"
        cache: dict[str, Any] = {}

        def client(service: str) -> Any:
            if service not in cache:
                config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard"}) if endpoint_url else None
                cache[service] = session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
            return cache[service]

        return cls.for_clients(client, prefix, region, local=endpoint_url is not None)

    @classmethod
    def for_clients(cls, clients: Clients, prefix: str, region: str, *, local: bool = False) -> Deployer:
        """A deployer on existing clients (an engine's `client`, a test's fake); `local`:
        an emulator, where functions default to this machine's architecture."""
        account = clients("sts").get_caller_identity()["Account"]
        architecture = host_architecture() if local else Context.architecture
        return cls(clients, Context(prefix=prefix, account=account, region=region, architecture=architecture))

    def plan(self, stack: Stack) -> list[Change]:
        check_names(stack.resources, self.ctx)  # a name too long for its service: refused before any call
        return plan(stack, self._remote(stack), self.ctx)

    def destroy_plan(self, stack: Stack) -> list[Change]:
        return destroy_plan(stack, self._remote(stack), self.ctx)

    def _remote(self, stack: Stack) -> BotoRemote:
        """A reader that has already read every resource of `stack`, concurrently."""
        remote = BotoRemote(self.clients)
        remote.read_ahead(stack.resources, stack, self.ctx)
        return remote

    def apply(
        self,
        changes: list[Change],
        report: Callable[[Change], None] | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> list[Change]:
        """Make `changes`; `report` hears of each one done, `notify` of each wait and why."""
        apply(changes, self.clients, report, notify)
        return changes

    def deploy(
        self,
        stack: Stack,
        report: Callable[[Change], None] | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> list[Change]:
        return self.apply(self.plan(stack), report, notify)

    def destroy(
        self,
        stack: Stack,
        report: Callable[[Change], None] | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> list[Change]:
        return self.apply(self.destroy_plan(stack), report, notify)

    def presence(self, stack: Stack) -> Presence:
        """How much of `stack` the target has (for `testbed status`)."""
        return self.presences({"stack": stack}, stack)["stack"]

    def presences(self, parts: Mapping[str, Stack], whole: Stack) -> dict[str, Presence]:
        """How much of each of `parts` (the workflows of `whole`) the target has, every
        resource of `whole` read once, all at once (for `testbed status`)."""
        from serverless_testbed.snapshot import snapshot_clients

        remote = _ReadOnce(snapshot_clients(self.clients))
        remote.read_ahead(whole.resources, whole, self.ctx)
        for resource in whole.resources:
            remote.describe(resource, whole, self.ctx)
        found = {}
        for name, stack in parts.items():
            present = len(destroy_plan(stack, remote, self.ctx))
            changes = plan(stack, remote, self.ctx) if present else []  # not deployed: nothing to compare
            found[name] = Presence(
                present=present,
                missing=sum(change.action == "create" for change in changes),
                differing=sum(change.action == "update" for change in changes),
            )
        return found


class _ReadOnce(BotoRemote):
    """A reader that reads each resource (by kind and name) once, however many plans ask."""

    def __init__(self, clients: Clients) -> None:
        super().__init__(clients)
        self._read_already: dict[tuple[str, str], Any] = {}

    def describe(self, resource: Resource, stack: Stack, ctx: Context) -> Any:
        key = (resource.kind, resource.name)
        if key not in self._read_already:
            self._read_already[key] = super().describe(resource, stack, ctx)
        return self._read_already[key]


@dataclass(frozen=True)
class Presence:
    """Resources of a stack the target has, lacks, and has in another shape than the model."""

    present: int
    missing: int
    differing: int

    @property
    def complete(self) -> bool:
        return self.present > 0 and not self.missing and not self.differing

    def describe(self) -> str:
        """In words, with what to do about it."""
        if self.complete:
            return f"deployed ({self.present} resources)"
        if not self.present:
            return "not deployed (testbed deploy)"
        gaps = [f"{count} {what}" for count, what in ((self.missing, "missing"), (self.differing, "differ")) if count]
        return f"partly deployed: {self.present} present, {', '.join(gaps)} (testbed deploy)"


PAST = {"create": "created", "update": "updated", "delete": "deleted"}


def done_line(change: Change, seconds: float | None = None) -> str:
    """One change made, in one line: `created  table          tb-orders  0.1 s`, an
    update with what differed."""
    line = f"{PAST.get(change.action, change.action):<8} {change.kind:<14} {change.name}"
    if change.reasons:
        line += f" ({'; '.join(change.reasons)})"
    return line + (f"  {seconds:.1f} s" if seconds is not None else "")


def tally(changes: Iterable[Change]) -> str:
    """`14 created, 2 updated`: how many changes of each action."""
    counted: dict[str, int] = {}
    for change in changes:
        counted[change.action] = counted.get(change.action, 0) + 1
    return ", ".join(f"{count} {PAST.get(action, action)}" for action, count in counted.items()) or "nothing"


def describe(changes: Iterable[Change], calls: bool = True) -> str:
    """A plain-text plan: one line per change, its reasons and calls indented."""
    lines = []
    for change in changes:
        lines.append(f"{change.action:<7} {change.kind:<14} {change.name}")
        lines.extend(f"          ~ {reason}" for reason in change.reasons)
        if calls:
            lines.extend(f"          {call}" for call in change.calls)
    return "\n".join(lines) if lines else "nothing to change"


def parse(argv: list[str] | None, environ: Mapping[str, str] | None = None) -> tuple[argparse.Namespace, Settings]:
    """The command line's options and the settings they and the environment give."""
    parser = argparse.ArgumentParser(
        prog="python -m serverless_testbed.deploy", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--prefix", help="resource name prefix (default: $TESTBED_PREFIX or tb)")
    parser.add_argument("--workflow", action="append", choices=sorted(workflows()), help="default: all")
    parser.add_argument("--plan", action="store_true", help="print the calls, make none")
    parser.add_argument("--destroy", action="store_true")
    parser.add_argument(
        "--target",
        choices=("emulator", "aws"),
        help="emulator: the one at $AWS_ENDPOINT_URL (refused when none is set); aws: real AWS, "
        "with --account-id (default: aws when $TESTBED_TARGET is aws, else emulator)",
    )
    parser.add_argument("--account-id", help="aws: the account you mean (default: $TESTBED_ACCOUNT_ID)")
    args = parser.parse_args(argv)
    settings = Settings.from_env(environ, prefix=args.prefix, account_id=args.account_id)
    args.target = args.target or ("aws" if settings.target == "aws" else "emulator")
    return args, settings


def connect(args: argparse.Namespace, settings: Settings, environ: Mapping[str, str]) -> Deployer:
    """A deployer for the target the command line asks for, after its guard agreed:
    an emulator only at an endpoint that is set and not AWS's; AWS only with no other
    endpoint configured, real credentials and the account id they belong to."""
    from serverless_testbed.guard import check_aws_target, emulator_endpoint

    if args.target == "aws":
        import boto3

        session = boto3.session.Session(region_name=settings.region)
        check_aws_target(session, environ, settings.account_id)
        return Deployer.connect(settings.prefix, settings.region, None, session=session)
    return Deployer.connect(settings.prefix, settings.region, emulator_endpoint(settings.endpoint_url))


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """`python -m serverless_testbed.deploy`: plan, deploy or destroy; errors end as one line and an exit code."""
    from botocore.exceptions import BotoCoreError, ClientError

    env = os.environ if environ is None else environ
    try:
        args, settings = parse(argv, env)
        deployer = connect(args, settings, env)
        stack = stack_for(args.workflow)
        changes = deployer.destroy_plan(stack) if args.destroy else deployer.plan(stack)
        print(describe(changes))
        if not args.plan:
            deployer.apply(changes, notify=lambda message: print(f"waiting: {message}", flush=True))
            print(f"applied {len(changes)} change(s)")
    except TestbedError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except (BotoCoreError, ClientError) as err:  # what the target answered, not a bug here
        print(f"error: {err}", file=sys.stderr)
        return DeployError.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
