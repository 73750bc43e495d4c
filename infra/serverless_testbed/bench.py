"""Benchmarks of the embedded engine: numbers to print, never assertions.

    testbed bench [--json] [--warm-calls 200] [--sfn-runs 20] [--sales 1000 10000 100000]

Measured on a fresh embedded engine (a second start: the first one of the process pays
for imports and warms the OS caches): start to ready, a no-op Python Lambda's first
invoke, cold invokes (the median over new functions, each invoked once) and warm
invokes, a no-op API call (SQS ListQueues) interleaved with the warm invokes as a
yardstick, invokes/s with concurrent callers, 2- and 3-state Step Functions executions,
a deploy of every workflow and a second deploy with nothing to change,
the sales ingest workflow end to end on 1,000, 10,000 and 100,000 records beside writing
the same valid records with BatchWriteItem, and the resident memory of the engine's
processes afterwards and at its peak (sampled through the whole run).
"""

from __future__ import annotations

import contextlib
import functools
import json
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from botocore.config import Config
from rich.console import Console, RenderableType
from rich.table import Table
from serverless_testbed.batch_write import batch_write
from serverless_testbed.engine.embedded import EmbeddedEngine, engine_processes
from serverless_testbed.errors import BadInput, TestbedError
from serverless_testbed.packaging import zip_files
from serverless_testbed.procfs import children
from serverless_testbed.progress import QUIET, Progress
from serverless_testbed.settings import LOCALSTACK_VERSION, Settings
from serverless_testbed.waiting import wait_for

COLD_FUNCTIONS = 10  # new functions whose first invokes give the cold-invoke median
CONCURRENT_CALLERS = 4
SALES_SIZES = (1000, 10000, 100000)
RSS_SAMPLE_S = 0.5
NOOP_SOURCE = "def handler(event, context):\n    return event\n"
PRINT_SOURCE = (
    "import sys\n\ndef handler(event, context):\n    sys.stdout.write(('x' * 1023 + '\\n') * 1024 * event['mb'])\n"
)
PRINT_MB, PRINT_INVOKES = 4, 30  # the chatty function: MB printed per invoke, invokes
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

# key -> (label, unit), in the order the table shows them.
MEASURES: dict[str, tuple[str, str]] = {
    "engine_start_s": ("engine start to ready (second start)", "s"),
    "cold_invoke_first_ms": ("Lambda no-op, the engine's first invoke (cold)", "ms"),
    "cold_invoke_ms": (f"Lambda no-op, cold invoke: median over {COLD_FUNCTIONS} new functions", "ms"),
    "cold_invoke_max_ms": ("  slowest of them", "ms"),
    "warm_invoke_median_ms": ("Lambda no-op, warm invoke median", "ms"),
    "warm_invoke_p95_ms": ("Lambda no-op, warm invoke p95", "ms"),
    "api_call_median_ms": ("no-op API call (SQS ListQueues) median", "ms"),
    "warm_invoke_to_api_ratio": ("warm invoke / API call", "x"),
    f"invokes_per_s_{CONCURRENT_CALLERS}": (f"invokes/s, {CONCURRENT_CALLERS} concurrent callers", "1/s"),
    "sfn_2_state_median_ms": ("Step Functions 2 states (Pass, Lambda) median", "ms"),
    "sfn_3_state_median_ms": ("Step Functions 3 states (Pass, Lambda, Pass) median", "ms"),
    "print_rss_before_mb": ("LocalStack process memory (RSS) before a function printing a lot", "MB"),
    "print_rss_half_mb": (f"  after {PRINT_INVOKES // 2} invokes printing {PRINT_MB} MB each", "MB"),
    "print_rss_after_mb": (f"  after {PRINT_INVOKES} (log delivery refused: the memory is the engine's own)", "MB"),
    "print_kept_share": ("  second half's RSS growth / what it printed (levels off: about 0)", "x"),
    "deploy_s": ("deploy every workflow to the fresh engine (plan and apply)", "s"),
    "deploy_resources": ("  resources it created", ""),
    "redeploy_noop_s": ("  deploy again, nothing changed (reads only)", "s"),
    "status_workflows_s": ("testbed status: which workflows are deployed (every one is)", "s"),
    "status_requests": ("  requests it made", ""),
    "cli_start_s": ("testbed --version: Python and the CLI starting (every command pays it)", "s"),
    **{
        key: measure
        for size in SALES_SIZES
        for key, measure in {
            f"sales_{size}_s": (f"sales ingest, {size:,} records (10 % bad), upload to last record", "s"),
            f"sales_{size}_records_per_s": ("  records per second", "1/s"),
            f"sales_{size}_batch_write_s": ("  yardstick: its valid records by BatchWriteItem", "s"),
            f"sales_{size}_ratio": ("  pipeline / yardstick", "x"),
            f"sales_{size}_unaccounted": ("  records not accounted for (must be 0)", ""),
        }.items()
    },
    "sales_unaccounted": ("sales records not accounted for, all sizes (must be 0)", ""),
    "engine_rss_mb": ("engine memory (RSS, all processes) after the run", "MB"),
    "engine_pss_mb": ("engine memory (PSS: shared pages counted once) after the run", "MB"),
    "engine_rss_peak_mb": ("engine memory (RSS, all processes) at its peak, sampled every 0.5 s", "MB"),
    "engine_processes": ("engine processes after the run", ""),
    "warm_calls": ("warm invokes measured", ""),
    "sfn_runs": ("executions measured per state machine", ""),
}


def _ms(seconds: float) -> float:
    return seconds * 1000


def _timed(call: Callable[[], Any]) -> float:
    """Seconds one call took."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _p95(samples: Sequence[float]) -> float:
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def rss_mb(pids: Sequence[int]) -> float:
    """The summed resident memory of `pids`, in MB (processes gone meanwhile count 0)."""
    total_kb = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def pss_mb(pids: Sequence[int]) -> float:
    """The summed proportional memory (PSS) of `pids`, in MB: pages shared between processes
    (the interpreter, libraries) counted once in all, not once per process as RSS does."""
    total_kb = 0
    for pid in pids:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


class PeakMemory:
    """The highest summed RSS of an engine's processes, sampled every RSS_SAMPLE_S in a
    thread from construction until `stop`."""

    def __init__(self, engine_id: str, root: str | None) -> None:
        self.engine_id, self.root, self.peak_mb = engine_id, root, 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, name="rss-peak", daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, rss_mb(engine_processes(self.engine_id, self.root)))
            if self.done.wait(RSS_SAMPLE_S):  # a sampling interval, not a wait for a condition
                return

    def stop(self) -> float:
        """Stop sampling; the peak in MB."""
        self.done.set()
        self.thread.join()
        return self.peak_mb


class _Bench:
    """One engine with a no-op function, and fresh clients made from its session."""

    def __init__(self, engine: EmbeddedEngine) -> None:
        self.engine = engine
        self.config = Config(retries={"mode": "standard", "max_attempts": 1}, read_timeout=60)

    def client(self, service: str, **config: Any) -> Any:
        """A new client (boto3 clients are thread-safe, but each caller gets its own pool)."""
        session: Any = self.engine.session()  # typed overloads want a literal service name
        merged = self.config.merge(Config(**config))
        return session.client(service, endpoint_url=self.engine.endpoint_url, config=merged)

    def create_function(self, role_arn: str, name: str = "bench-noop") -> str:
        lam = self.client("lambda")
        arn: str = lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler="noop.handler",
            Code={"ZipFile": zip_files({"noop.py": NOOP_SOURCE})},
            Timeout=30,
        )["FunctionArn"]
        wait_for(
            lambda: lam.get_function_configuration(FunctionName=name)["State"] == "Active",
            timeout=60,
            what=f"function {name} to be Active",
        )
        return arn

    def print_memory(self, results: dict[str, float | int]) -> None:
        """The LocalStack process's RSS around PRINT_INVOKES invokes of a function printing
        PRINT_MB MB each; its role may not write logs, so none of that memory is stored logs."""
        assert self.engine.record is not None
        supervisor = self.engine.record.pid
        pid = next(p for p in children(supervisor) if b"localstack_main" in Path(f"/proc/{p}/cmdline").read_bytes())
        role = self.client("iam").create_role(RoleName="bench-quiet", AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))
        lam = self.client("lambda")
        lam.create_function(
            FunctionName="bench-print",
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="chatty.handler",
            Code={"ZipFile": zip_files({"chatty.py": PRINT_SOURCE})},
            Timeout=60,
        )
        lam.get_waiter("function_active_v2").wait(FunctionName="bench-print")
        results["print_rss_before_mb"] = rss_mb([pid])
        for number in range(PRINT_INVOKES):
            lam.invoke(FunctionName="bench-print", Payload=json.dumps({"mb": PRINT_MB}))["Payload"].read()
            if number + 1 == PRINT_INVOKES // 2:
                results["print_rss_half_mb"] = rss_mb([pid])
        results["print_rss_after_mb"] = rss_mb([pid])
        printed = (PRINT_INVOKES - PRINT_INVOKES // 2) * PRINT_MB
        results["print_kept_share"] = (results["print_rss_after_mb"] - results["print_rss_half_mb"]) / printed
        lam.delete_function(FunctionName="bench-print")

    def cold_invokes(self, role_arn: str, count: int) -> list[float]:
        """Seconds of the first invoke of `count` new no-op functions, each created (and
        Active) just before: every one starts an execution environment. Each is deleted
        once measured, its worker with it: the memory measures count the workloads'."""
        lam = self.client("lambda")
        seconds = []
        for number in range(count):
            name = f"bench-cold-{number}"
            self.create_function(role_arn, name)
            seconds.append(_timed(functools.partial(lam.invoke, FunctionName=name, Payload=b"{}")))
            lam.delete_function(FunctionName=name)
        return seconds

    def concurrent_invokes_per_s(self, calls_per_caller: int) -> float:
        clients = [self.client("lambda") for _ in range(CONCURRENT_CALLERS)]
        barrier = threading.Barrier(CONCURRENT_CALLERS + 1)
        errors: list[BaseException] = []

        def caller(lam: Any) -> None:
            try:
                lam.invoke(FunctionName="bench-noop", Payload=b"{}")  # warm one environment each
                barrier.wait()
                for _ in range(calls_per_caller):
                    lam.invoke(FunctionName="bench-noop", Payload=b"{}")
            except BaseException as err:  # noqa: BLE001 - reported once the threads are joined
                errors.append(err)
                barrier.abort()

        threads = [threading.Thread(target=caller, args=(lam,)) for lam in clients]
        for thread in threads:
            thread.start()
        with contextlib.suppress(threading.BrokenBarrierError):  # a caller failed: reported below
            barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise TestbedError(f"concurrent invokes failed: {errors[0]!r}") from errors[0]
        return CONCURRENT_CALLERS * calls_per_caller / elapsed

    def state_machine_median_ms(self, role_arn: str, function_arn: str, states: int, runs: int) -> float:
        sfn = self.client("stepfunctions", inject_host_prefix=False)  # no "sync-" host on 127.0.0.1
        arn = sfn.create_state_machine(
            name=f"bench-{states}-states",
            definition=json.dumps(_definition(function_arn, states)),
            roleArn=role_arn,
            type="EXPRESS",
        )["stateMachineArn"]

        def execute() -> None:
            result = sfn.start_sync_execution(stateMachineArn=arn, input='{"n": 1}')
            if result["status"] != "SUCCEEDED":
                raise TestbedError(f"{states}-state execution ended {result['status']}: {result}")

        execute()  # the first run of a definition parses and caches it
        return _ms(statistics.median(_timed(execute) for _ in range(runs)))


def _definition(function_arn: str, states: int) -> dict[str, Any]:
    invoke: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
        "OutputPath": "$.Payload",
    }
    definition: dict[str, Any] = {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Result": {"order": 1}, "Next": "Invoke"},
            "Invoke": {**invoke, "End": True},
        },
    }
    if states == 3:
        definition["States"]["Invoke"] = {**invoke, "Next": "Shape"}
        definition["States"]["Shape"] = {
            "Type": "Pass",
            "Parameters": {"done.$": "$.order"},
            "End": True,
        }
    return definition


def deploy_times(engine: EmbeddedEngine, results: dict[str, float | int]) -> None:
    """Every workflow deployed in-process with prefix "bench" (what sales_ingest then finds
    deployed), and deployed again with nothing to change."""
    from serverless_testbed.deploy import Deployer
    from serverless_testbed.registry import stack_for

    deployer = Deployer.for_clients(engine.client, "bench", engine.region, local=True)
    stack = stack_for()
    started = time.monotonic()
    changes = deployer.deploy(stack)
    results["deploy_s"] = time.monotonic() - started
    results["deploy_resources"] = sum(change.action == "create" for change in changes)
    started = time.monotonic()
    again = deployer.deploy(stack)
    results["redeploy_noop_s"] = time.monotonic() - started
    if again:
        raise TestbedError(f"a second deploy of an unchanged stack made {len(again)} change(s): {again[0]}")


def status_times(engine: EmbeddedEngine, results: dict[str, float | int]) -> None:
    """What `testbed status` costs with every workflow deployed (by deploy_times, prefix
    "bench"): its look at the workflows, in process, the second of two (the first makes
    the clients); and a command's start, `testbed --version` in a process of its own."""
    import subprocess
    import sys

    from serverless_testbed.cli import _deployed_rows
    from serverless_testbed.stack.kinds import KINDS

    _deployed_rows(engine, "bench")  # makes the engine's clients, which it keeps
    requests = 0

    def count(**_: Any) -> None:
        nonlocal requests
        requests += 1

    for service in {*(service for kind in KINDS for service in kind.services), "sts"}:
        engine.client(service).meta.events.register("before-send", count)
    results["status_workflows_s"] = _timed(lambda: _deployed_rows(engine, "bench"))
    results["status_requests"] = requests
    command = [sys.executable, "-m", "serverless_testbed", "--version"]
    results["cli_start_s"] = _timed(lambda: subprocess.run(command, check=True, capture_output=True))


def sales_ingest(
    engine: EmbeddedEngine, sizes: Sequence[int], results: dict[str, float | int], first: bool = True
) -> None:
    """Workflow 2 end to end per file size, beside BatchWriteItem of the same valid records
    (`first`: the workers are warmed with a small file before)."""
    from serverless_testbed.deploy import Deployer
    from serverless_testbed.registry import stack_for

    from fixtures.sales import generate_sales, render_sales
    from infra.runs.sales import check_outcome, upload
    from infra.workflows import sales

    deployer = Deployer.for_clients(engine.client, "bench", engine.region, local=True)
    stack = stack_for(["sales"])
    deployer.deploy(stack)
    table = stack.bind(deployer.ctx).name(sales.TABLE)
    dynamodb = engine.client("dynamodb")
    if first:
        upload(deployer, stack, render_sales(generate_sales(20, 0.1, 1), "json"), "json")  # warm the workers
    unaccounted = 0
    for size in sizes:
        generated = generate_sales(size, 0.1, seed=size)
        body = render_sales(generated, "json")
        started = time.monotonic()
        key, execution = upload(deployer, stack, body, "json")
        seconds = time.monotonic() - started
        source = f"s3://{stack.bind(deployer.ctx).name(sales.BUCKET)}/{key}"
        problems = check_outcome(deployer, stack, generated, source, execution) if execution.succeeded else ["failed"]
        unaccounted += len(problems)
        results[f"sales_{size}_unaccounted"] = len(problems)
        items = [
            item
            for page in dynamodb.get_paginator("scan").paginate(TableName=table)
            for item in page["Items"]
            if item.get("sourceFile", {}).get("S") == source
        ]
        started = time.monotonic()
        batch_write(dynamodb, table, [{"PutRequest": {"Item": item}} for item in items])
        yardstick = time.monotonic() - started
        results[f"sales_{size}_s"] = seconds
        results[f"sales_{size}_records_per_s"] = size / seconds
        results[f"sales_{size}_batch_write_s"] = yardstick
        results[f"sales_{size}_ratio"] = seconds / yardstick
    results["sales_unaccounted"] = results.get("sales_unaccounted", 0) + unaccounted


EXAMPLES = ("orders", "sales", "processing", "router", "csv-etl")


def check_examples() -> None:
    """The benchmarks drive the example workflows of the serverless-testbed repository: refuse,
    in one line, in a project that does not hold them."""
    from serverless_testbed.registry import workflows

    missing = [name for name in EXAMPLES if name not in workflows()]
    if missing:
        raise BadInput(
            "testbed bench measures the engine on the example workflows of the serverless-testbed repository "
            f"({', '.join(EXAMPLES)}); this project lacks {', '.join(missing)}: run it in a checkout of that repository"
        )


def run_benchmarks(
    settings: Settings | None = None,
    warm_calls: int = 200,
    sfn_runs: int = 20,
    sales_sizes: Sequence[int] = SALES_SIZES,
    progress: Progress = QUIET,
) -> dict[str, float | int]:
    """Start a fresh embedded engine, measure it, stop it; returns the numbers by key
    (see MEASURES for labels and units); `progress` hears of each measure as it goes."""
    settings = settings or Settings(target="embedded")
    if settings.target != "embedded":
        raise ValueError(f"benchmarks measure the embedded engine, not target {settings.target!r}")
    if warm_calls < 1 or sfn_runs < 1:
        raise ValueError("warm_calls and sfn_runs must be at least 1")
    check_examples()
    with progress.stage("bench: a first engine started and stopped (it pays for imports)"):
        EmbeddedEngine(settings).start().stop()

    engine = EmbeddedEngine(settings)
    results: dict[str, float | int] = {"warm_calls": warm_calls, "sfn_runs": sfn_runs}
    with progress.stage("bench: engine start timed"):
        results["engine_start_s"] = _timed(engine.start)
    assert engine.record is not None
    peak = PeakMemory(engine.record.engine_id, engine.record.root)
    try:
        bench = _Bench(engine)
        iam = bench.client("iam")
        role_arn = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))["Role"]["Arn"]
        # The no-op function and state machines measure the engine, not least privilege; where IAM
        # is enforced a role without a policy may call nothing (its Lambda tasks were refused).
        iam.put_role_policy(RoleName="bench", PolicyName="bench", PolicyDocument=json.dumps(ALLOW_ALL))
        function_arn = bench.create_function(role_arn)
        lam, sqs = bench.client("lambda"), bench.client("sqs")

        def invoke() -> None:
            lam.invoke(FunctionName="bench-noop", Payload=b"{}")

        results["cold_invoke_first_ms"] = _ms(_timed(invoke))
        with progress.stage(f"bench: cold invokes of {COLD_FUNCTIONS} new functions"):
            cold = bench.cold_invokes(role_arn, COLD_FUNCTIONS)
        results["cold_invoke_ms"] = _ms(statistics.median(cold))
        results["cold_invoke_max_ms"] = _ms(max(cold))
        sqs.list_queues()  # open the connection, as the invoke's is
        warm, api = [], []
        with progress.stage("bench: warm invokes and API calls", total=warm_calls, unit="pairs") as stage:
            for _ in range(warm_calls):  # interleaved: both see the same machine state
                warm.append(_timed(invoke))
                api.append(_timed(sqs.list_queues))
                stage.advance()
        results["warm_invoke_median_ms"] = _ms(statistics.median(warm))
        results["warm_invoke_p95_ms"] = _ms(_p95(warm))
        results["api_call_median_ms"] = _ms(statistics.median(api))
        results["warm_invoke_to_api_ratio"] = statistics.median(warm) / statistics.median(api)

        per_caller = max(warm_calls // CONCURRENT_CALLERS, 1)
        with progress.stage(f"bench: invokes from {CONCURRENT_CALLERS} callers at once"):
            results[f"invokes_per_s_{CONCURRENT_CALLERS}"] = bench.concurrent_invokes_per_s(per_caller)
        for states in (2, 3):
            with progress.stage(f"bench: {states}-state executions"):
                results[f"sfn_{states}_state_median_ms"] = bench.state_machine_median_ms(
                    role_arn, function_arn, states, sfn_runs
                )
        with progress.stage("bench: every workflow deployed, then deployed again"):
            deploy_times(engine, results)
        with progress.stage("bench: testbed status with every workflow deployed"):
            status_times(engine, results)
        for size in sales_sizes:
            with progress.stage(f"bench: sales ingest of {size:,} records"):
                sales_ingest(engine, [size], results, first=size == sales_sizes[0])
        if sales_sizes:
            results["sales_unaccounted"] = sum(int(results[f"sales_{size}_unaccounted"]) for size in sales_sizes)
        pids = engine_processes(engine.record.engine_id, engine.record.root)
        results["engine_processes"] = len(pids)
        results["engine_rss_mb"] = rss_mb(pids)
        results["engine_pss_mb"] = pss_mb(pids)
        results["engine_rss_peak_mb"] = peak.stop()
        with progress.stage("bench: the engine's memory around a function that prints a lot"):
            bench.print_memory(results)  # last: its plateau must not count in the workloads' memory above
    finally:
        if "engine_rss_peak_mb" not in results:
            results["engine_rss_peak_mb"] = peak.stop()
        engine.stop()
    ordered = {key: results[key] for key in MEASURES if key in results}
    return {**ordered, **{key: value for key, value in results.items() if key not in ordered}}  # e.g. --sales 50000


def render(results: dict[str, float | int], console: Console | None = None) -> RenderableType:
    """The results as a table (measure, value, unit); for a `console` the table does not
    fit (or no terminal), one `measure: value unit` line each."""
    from serverless_testbed.terminal import table_or_lines

    title = f"testbed benchmarks (embedded LocalStack {LOCALSTACK_VERSION})"
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    lines = [f"{title}:"]
    for key, value in results.items():
        label, unit = MEASURES.get(key, (key, ""))
        shown = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
        table.add_row(label, shown, unit)
        lines.append(f"  {label.strip()}: {shown} {unit}".rstrip())
    return table if console is None else table_or_lines(console, table, lines)
