"""The testbed as a pytest plugin: an engine per session, boto3 clients, deploy and wait.

Registered under the `pytest11` entry point, so any project that installs this package
gets these fixtures. Choose the target with `--testbed-target` (else $TESTBED_TARGET,
else `embedded`). With `testbed up` running, an embedded session uses that engine in a
slot of its own and keeps its stacks deployed for the next session (infra/serverless_testbed/engine/reuse.py);
`--testbed-own-engine` (or TESTBED_OWN_ENGINE=1) starts a fresh engine instead.
Override the settings fixtures in your conftest.py:

- `testbed_project_root`: the directory holding your `asl/` and `src/` (default: found
  from the working directory, see `serverless_testbed.project`);
- `testbed_stack`: what `deploy()` deploys with no argument (default: the workflows named
  by `testbed_workflows`, all registered ones unless overridden).

Fixtures: `testbed_settings`, `testbed_engine`, `aws`, `deployer`, `deploy`,
`wait_execution`, `receive_messages`, `unique`, `faults`, `testbed_reset` (an empty engine for
a module that asks: `pytestmark = pytest.mark.usefixtures("testbed_reset")`, with the mock file
of `testbed_mock_config`), and the factories of
`serverless_testbed.pytest_factories` (`cleanup`, `role_arn`, `make_function`, `make_queue`,
`make_bucket`, `make_state_machine`). boto3 and the engines are imported when a fixture
is first used, so a session that uses none of them does not pay for them.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from serverless_testbed.errors import EngineUnavailable
from serverless_testbed.project import find_root, use_root
from serverless_testbed.pytest_factories import (
    cleanup,
    make_bucket,
    make_function,
    make_queue,
    make_state_machine,
    role_arn,
)
from serverless_testbed.settings import TARGETS, Settings

if TYPE_CHECKING:
    from datetime import datetime

    from serverless_testbed.clients import Clients
    from serverless_testbed.deploy import Deployer
    from serverless_testbed.engine import Engine
    from serverless_testbed.engine.reuse import Reused
    from serverless_testbed.faults import FaultsClient
    from serverless_testbed.stack.stack import Stack

__all__ = [
    "cleanup",
    "make_bucket",
    "make_function",
    "make_queue",
    "make_state_machine",
    "role_arn",
]

LOG = logging.getLogger(__name__)
OPTION = "--testbed-target"
OWN_ENGINE_OPTION = "--testbed-own-engine"
REUSE_KEY = pytest.StashKey[str]()
# How many times `testbed_reset` emptied the session's engine: what `deploy()` deployed before is gone.
RESETS_KEY = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--testbed-target`: where the session's engine runs; `--testbed-own-engine`."""
    group = parser.getgroup("testbed", "serverless testbed")
    group.addoption(
        OPTION,
        choices=TARGETS,
        default=None,
        help="where the testbed's fixtures run (default: $TESTBED_TARGET or embedded)",
    )
    group.addoption(
        OWN_ENGINE_OPTION,
        action="store_true",
        default=False,
        help="start an engine for this session even when `testbed up` left one running",
    )


def pytest_configure(config: pytest.Config) -> None:
    """A project that declares its workflows ([tool.testbed]) has its root importable, as the
    CLI does: its tests import the project's workflow, runner and generator packages
    whichever way pytest was started (`pytest`, `python -m pytest`)."""
    from serverless_testbed.project import ProjectNotFound, project_config

    try:
        root = find_root()
        declared = project_config(root) is not None
    except (ProjectNotFound, ValueError):  # no project, or a broken [tool.testbed]: the fixtures say so
        return
    if declared and str(root) not in sys.path:
        sys.path.insert(0, str(root))


@pytest.fixture(scope="session")
def testbed_project_root() -> Path:
    """The directory holding `asl/` and `src/`; override to point at your own project."""
    return find_root()


@pytest.fixture(scope="session")
def testbed_workflows() -> Sequence[str] | None:
    """Registered workflows `deploy()` deploys with no argument; None: all of them."""
    return None


@pytest.fixture(scope="session")
def testbed_stack(testbed_workflows: Sequence[str] | None) -> Stack:
    """What `deploy()` deploys with no argument; override with your own `Stack.of(...)`."""
    from serverless_testbed.registry import stack_for

    return stack_for(testbed_workflows)


@pytest.fixture(scope="session")
def testbed_reused(request: pytest.FixtureRequest) -> Iterator[Reused | None]:
    """The engine `testbed up` left running, with a session slot taken, when this session
    may use it (infra/serverless_testbed/engine/reuse.py says when); None otherwise."""
    from serverless_testbed.engine.reuse import reuse_running_engine

    settings = Settings.from_env(target=request.config.getoption(OPTION))
    reused, why = reuse_running_engine(settings, own_engine=bool(request.config.getoption(OWN_ENGINE_OPTION)))
    request.config.stash[REUSE_KEY] = why
    yield reused
    if reused is not None:
        reused.release()


@pytest.fixture(scope="session")
def testbed_settings(request: pytest.FixtureRequest, testbed_reused: Reused | None) -> Settings:
    """The session's settings: the target from `--testbed-target`, a prefix of its own
    (the slot's on a reused engine)."""
    prefix = testbed_reused.prefix if testbed_reused is not None else f"t{uuid.uuid4().hex[:6]}"
    return Settings.from_env(target=request.config.getoption(OPTION), prefix=prefix)


@pytest.fixture(scope="session")
def testbed_engine(
    testbed_settings: Settings, testbed_reused: Reused | None, request: pytest.FixtureRequest
) -> Iterator[Engine]:
    """The engine for this session, started once and stopped at the end; or the running
    engine it reuses, left running. Before it goes, the coverage of every state machine the
    session's executions used is recorded (`record_engine_coverage`)."""
    from datetime import UTC, datetime

    from serverless_testbed.engine import engine_for

    if testbed_settings.target == "aws":
        pytest.skip("the testbed's fixtures do not run against real AWS")
    started = request.config.stash.setdefault(ENGINE_SINCE_KEY, datetime.now(UTC))
    if testbed_reused is not None:
        yield testbed_reused.engine
        record_engine_coverage(request.config, testbed_reused.engine.client, testbed_settings.prefix, started)
        return
    instance = engine_for(testbed_settings)
    try:
        instance.start()
    except EngineUnavailable as err:
        pytest.skip(str(err))
    yield instance
    record_engine_coverage(request.config, instance.client, testbed_settings.prefix, started)
    instance.stop()


@pytest.fixture(scope="session")
def aws(testbed_engine: Engine) -> Clients:
    """`aws("s3")` gives a boto3 client pointed at the session's engine."""
    return testbed_engine.client


@pytest.fixture(scope="session")
def deployer(testbed_engine: Engine, testbed_settings: Settings, testbed_project_root: Path) -> Iterator[Deployer]:
    """Deploys with the session's engine clients and prefix, from `testbed_project_root`."""
    from serverless_testbed.deploy import Deployer

    with use_root(testbed_project_root):
        yield Deployer.for_clients(
            testbed_engine.client, testbed_settings.prefix, testbed_engine.region, local=testbed_settings.is_emulator
        )


@pytest.fixture(scope="session")
def deploy(
    deployer: Deployer, testbed_stack: Stack, testbed_reused: Reused | None, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Stack]]:
    """`deploy()` deploys `testbed_stack`, `deploy("sales")` a registered workflow,
    `deploy(stack)` any stack; each once per session, all destroyed at its end (after the
    coverage of their state machines is recorded, see `record_coverage`), except on a
    reused engine, where they stay deployed for the slot's next session, which empties
    their tables, queues and buckets when it first deploys them (infra/serverless_testbed/stack/reset.py)."""
    from datetime import UTC, datetime

    from serverless_testbed.registry import stack_for
    from serverless_testbed.stack.reset import reset_data
    from serverless_testbed.stack.stack import Stack

    deployed: list[tuple[str, Stack, int]] = []

    def make(what: str | Stack | None = None) -> Stack:
        wanted = testbed_stack if what is None else what
        resets = request.config.stash.get(RESETS_KEY, 0)
        for label, stack, generation in deployed:
            same = (isinstance(wanted, str) and label == wanted) or (isinstance(wanted, Stack) and stack == wanted)
            if same and generation == resets:
                return stack
        stack = wanted if isinstance(wanted, Stack) else stack_for([wanted])
        deployer.deploy(stack)  # after a reset: everything again, nothing being left
        if testbed_reused is not None and not resets:  # the slot's last session left data: start empty
            reset_data(deployer.clients, stack, deployer.ctx)
        deployed[:] = [entry for entry in deployed if entry[1] != stack]
        deployed.append((wanted if isinstance(wanted, str) else "a stack", stack, resets))
        return stack

    started = datetime.now(UTC)
    yield make
    for label, stack, _ in reversed(deployed):
        record_coverage(request.config, deployer, stack, since=started)
        if testbed_reused is not None:
            continue
        try:
            deployer.destroy(stack)
        except Exception:
            LOG.exception("destroying %s failed", label)


COVERAGE_KEY = pytest.StashKey[dict[str, Any]]()
# The executions already counted in the session's coverage (each is counted once).
COUNTED_KEY = pytest.StashKey[set[str]]()
# When the session took its engine: the executions since then are the session's.
ENGINE_SINCE_KEY = pytest.StashKey["datetime"]()


def record_coverage(config: pytest.Config, deployer: Deployer, stack: Stack, since: datetime | None = None) -> None:
    """Before a stack is destroyed: add the histories of every execution of its state
    machines (started at `since` or later) to the session's coverage (infra/serverless_testbed/coverage.py),
    reported at the end."""
    from serverless_testbed.coverage import Coverage, Model, collect
    from serverless_testbed.stack.model import StateMachine

    coverages = config.stash.setdefault(COVERAGE_KEY, {})
    sfn = deployer.clients("stepfunctions")
    for resource in stack.resources:
        if not isinstance(resource, StateMachine):
            continue
        arn = stack.bind(deployer.ctx).arn(resource.name)
        try:
            if resource.name not in coverages:
                definition = sfn.describe_state_machine(stateMachineArn=arn)["definition"]
                coverages[resource.name] = Coverage(Model.from_asl(definition))
            collect(deployer.clients, arn, coverages[resource.name], since=since, seen=counted(config))
        except Exception:
            LOG.exception("state machine coverage of %s not recorded", resource.name)


def counted(config: pytest.Config) -> set[str]:
    """The ARNs of the executions the session's coverage has counted."""
    return config.stash.setdefault(COUNTED_KEY, set())


def record_engine_coverage(config: pytest.Config, clients: Clients, prefix: str, since: datetime) -> None:
    """Add to the session's coverage every execution started since `since` of any state machine
    in the engine, not only of the stacks `deploy()` deployed: a SAM or CloudFormation stack's,
    one a test made itself. A machine of the session's prefix is named as in its stack
    (`customer-orders`), any other by its name in the engine. Executions already counted
    (`record_coverage`) are not counted again."""
    from serverless_testbed.coverage import Coverage, Model, collect

    coverages = config.stash.setdefault(COVERAGE_KEY, {})
    try:
        sfn = clients("stepfunctions")
        machines = [m for page in sfn.get_paginator("list_state_machines").paginate() for m in page["stateMachines"]]
    except Exception:
        LOG.exception("the engine's state machines could not be listed for coverage")
        return
    for machine in machines:
        arn, name = machine["stateMachineArn"], machine["name"]
        key = name.removeprefix(f"{prefix}-")
        try:
            executions = [
                e
                for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
                for e in page["executions"]
                if e["startDate"] >= since and e["executionArn"] not in counted(config)
            ]
            if not executions:
                continue
            if key not in coverages:
                coverages[key] = Coverage(Model.from_asl(sfn.describe_state_machine(stateMachineArn=arn)["definition"]))
            collect(clients, arn, coverages[key], since=since, seen=counted(config))
        except Exception:
            LOG.exception("state machine coverage of %s not recorded", name)


def coverage_json_path(config: pytest.Config) -> Path:
    """Where the session's coverage details go: the pytest cache
    (`.pytest_cache/d/testbed/coverage.json`), or `build/testbed/coverage.json` under the
    rootdir when the cache is off (`-p no:cacheprovider` leaves `config.cache` unset)."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("testbed")) / "coverage.json"
    folder = config.rootpath / "build" / "testbed"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "coverage.json"


WORKER_OUTPUT = "testbed_session"
WORKER_ENGINES_KEY = pytest.StashKey[list[str]]()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A pytest-xdist worker (a session of its own, with an engine of its own) hands its
    engine line and its coverage, as JSON, to the controller."""
    config = session.config
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is None:
        return
    coverages = config.stash.get(COVERAGE_KEY, {})
    workeroutput[WORKER_OUTPUT] = {
        "engine": config.stash.get(REUSE_KEY, None),
        "coverage": {name: coverage.to_json() for name, coverage in coverages.items()},
    }


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """The controller of a pytest-xdist run adds up what its workers covered."""
    from serverless_testbed.coverage import Coverage

    output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
    if not output:
        return
    config = node.config
    if output["engine"]:
        config.stash.setdefault(WORKER_ENGINES_KEY, []).append(output["engine"])
    coverages = config.stash.setdefault(COVERAGE_KEY, {})
    for name, document in output["coverage"].items():
        part = Coverage.from_json(document)
        if name in coverages:
            coverages[name].merge(part)
        else:
            coverages[name] = part


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Which engine the session used (reused or not, and why), and the state machine
    coverage of the session: a table, and the details as JSON at
    `coverage_json_path` (infra/serverless_testbed/coverage.py says what is in it). Under pytest-xdist, what
    each worker said and covered."""
    from serverless_testbed.coverage import report, table

    engines = [config.stash.get(REUSE_KEY, None), *config.stash.get(WORKER_ENGINES_KEY, [])]
    for why in dict.fromkeys(why for why in engines if why):
        terminalreporter.write_line(f"testbed engine: {why}")
    coverages = config.stash.get(COVERAGE_KEY, None)
    if not coverages:
        return
    terminalreporter.write_sep("-", "state machine coverage (covered/total)")
    terminalreporter.write_line(table(coverages))
    try:
        path = coverage_json_path(config)
        path.write_text(json.dumps(report(coverages), indent=1))
    except OSError as err:  # a read-only checkout must not turn a passing session into an error
        terminalreporter.write_line(f"state machine coverage details not written: {err}")
        return
    terminalreporter.write_line(f"details: {path}")


@pytest.fixture(scope="session")
def testbed_mock_config() -> Path | None:
    """The Step Functions Local mock file `testbed_reset` gives the engine (None: keep the one it
    has); override it in a test module (scope "module") to give that module its own."""
    return None


@pytest.fixture(scope="module")
def testbed_reset(
    request: pytest.FixtureRequest,
    testbed_engine: Engine,
    testbed_settings: Settings,
    testbed_mock_config: Path | None,
) -> dict[str, Any]:
    """An empty engine for the module that asks for it (`pytestmark =
    pytest.mark.usefixtures("testbed_reset")`): everything deployed before is deleted, in
    seconds, and the engine takes `testbed_mock_config` when one is given. `deploy()` deploys
    anew afterwards. On an engine `testbed up` started, other sessions' resources go too. Only
    the embedded engine can be reset; elsewhere the module is skipped, saying why."""
    from serverless_testbed.engine_reset import reset_engine

    if testbed_settings.target != "embedded" or not testbed_engine.endpoint_url:
        pytest.skip(f"an engine reset needs the embedded engine (target is {testbed_settings.target})")
    since = request.config.stash.get(ENGINE_SINCE_KEY, None)
    if since is not None:  # what the session's executions covered, before the reset empties the engine
        record_engine_coverage(request.config, testbed_engine.client, testbed_settings.prefix, since)
    answer = reset_engine(testbed_engine.endpoint_url, testbed_mock_config)
    request.config.stash[RESETS_KEY] = request.config.stash.get(RESETS_KEY, 0) + 1
    LOG.info("engine reset in %.2f s (%s)", answer["seconds"], ", ".join(answer["reset"]))
    return answer


@pytest.fixture
def wait_execution(aws: Clients) -> Callable[..., dict[str, Any]]:
    """`wait_execution(arn, timeout=60)` -> describe_execution once it is no longer RUNNING."""
    from serverless_testbed.waiting import wait_for

    sfn = aws("stepfunctions")

    def wait(arn: str, timeout: float = 60) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            described: dict[str, Any] = dict(sfn.describe_execution(executionArn=arn))
            return None if described["status"] == "RUNNING" else described

        return wait_for(finished, timeout=timeout, what=f"execution {arn} to finish")

    return wait


@pytest.fixture
def receive_messages(aws: Clients) -> Callable[..., list[dict[str, Any]]]:
    """`receive_messages(url, count, timeout=20)` -> the bodies (parsed JSON) of `count` messages."""
    from serverless_testbed.observe import drain

    def receive(url: str, count: int, timeout: float = 20) -> list[dict[str, Any]]:
        return [json.loads(message["Body"]) for message in drain(aws, url, count=count, timeout=timeout)]

    return receive


@pytest.fixture
def unique() -> Callable[[str], str]:
    """`unique("fn")` -> a name that does not collide between tests or parallel runs."""

    def make(stem: str) -> str:
        return f"{stem}-{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def faults(testbed_engine: Engine, testbed_settings: Settings, testbed_reused: Reused | None) -> Iterator[FaultsClient]:
    """Fault rules for one test: `faults.inject(service="dynamodb", operation="PutItem",
    error="ProvisionedThroughputExceededException", count=2)` (infra/serverless_testbed/faults.py has the rule
    format); the test's rules are removed when it ends, passed or failed, and only those:
    other sessions on a reused engine keep theirs. Only the embedded engine injects faults:
    on the other targets the test is skipped, saying why."""
    from serverless_testbed.faults import FaultsClient

    if testbed_settings.target != "embedded" or not testbed_engine.endpoint_url:
        pytest.skip(f"fault injection needs the embedded engine (target is {testbed_settings.target})")
    client = FaultsClient(testbed_engine.endpoint_url)
    if testbed_reused is None:
        client.clear()  # the session's own engine: a rule found there is a leftover, it must not change this test
    try:
        yield client
    finally:
        client.remove_installed()
