"""Engine-side batching of Lambda's and SQS's bookkeeping (an on_infra_start hook).

LocalStack 4.14.0 starts a thread and makes one PutMetricData call (an SQLite commit)
for every invoke, and one PutLogEvents call per invoke. On a 2-core machine that work
competes with the invoke itself and doubles a warm invoke's latency. AWS delivers both
with a delay too, so the engine sends them in batches: metrics once a second as
statistic sets, logs as one call per log stream for whatever is queued. Nothing is
dropped; readers of logs and metrics must poll, as they must against AWS. SQS
likewise made one PutMetricData call per message; its samples join the same batches. Likewise
each invoke started a keep-alive `threading.Timer` (a new thread); one scheduler
thread now serves every environment's timers.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from queue import Empty
from typing import Any

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

LOG = logging.getLogger(__name__)
FLUSH_SECONDS = 1.0
MAX_LOG_ITEMS = 500
LOG_WINDOW_S = 0.05  # how long a round of Lambda logs waits for more before it is stored


Key = tuple[str, str, str, str, str, str, str]  # account, region, namespace, dimension, value, metric, unit


class MetricBatcher:
    """Aggregates metric samples (Lambda invocations and errors, SQS message counts) and
    publishes them once a second as statistic sets, one PutMetricData per target."""

    def __init__(self) -> None:
        self._stats: dict[Key, list[float]] = {}  # sample count, sum, minimum, maximum
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="testbed-metrics", daemon=True)
        self._thread.start()

    def sample(self, key: Key, value: float = 1.0) -> None:
        with self._lock:
            stats = self._stats.get(key)
            if stats is None:
                self._stats[key] = [1.0, value, value, value]
            else:
                stats[0] += 1
                stats[1] += value
                stats[2] = min(stats[2], value)
                stats[3] = max(stats[3], value)

    def invocation(self, function_name: str, account_id: str, region_name: str) -> None:
        self.sample(_lambda_key(account_id, region_name, function_name, "Invocations"))

    def error(self, function_name: str, account_id: str, region_name: str) -> None:
        self.invocation(function_name, account_id, region_name)
        self.sample(_lambda_key(account_id, region_name, function_name, "Errors"))

    def sqs_metric(
        self, account_id: str, region: str, queue_name: str, metric: str, value: float = 1, unit: str = "Count"
    ) -> None:
        self.sample((account_id, region, "AWS/SQS", "QueueName", queue_name, metric, unit), float(value))

    def sqs_metric_batch(self, account_id: str, region: str, sqs_metric_batch_data: list[dict[str, Any]]) -> None:
        for data in sqs_metric_batch_data:
            self.sqs_metric(
                account_id,
                region,
                str(data.get("QueueName")),
                str(data.get("MetricName")),
                float(data.get("Value", 1)),
                str(data.get("Unit", "Count")),
            )

    def _loop(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)  # a flush period, not a wait for a condition
            with self._lock:
                stats, self._stats = self._stats, {}
            if stats:
                self._publish(stats)

    @staticmethod
    def _publish(stats: dict[Key, list[float]]) -> None:
        from localstack.aws.connect import connect_to

        by_target: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        now = datetime.now(UTC)
        for (account, region, namespace, dimension, value, metric, unit), (count, total, low, high) in stats.items():
            by_target[(account, region, namespace)].append(
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": dimension, "Value": value}],
                    "Timestamp": now,
                    "StatisticValues": {"SampleCount": count, "Sum": total, "Minimum": low, "Maximum": high},
                    "Unit": unit,
                }
            )
        for (account, region, namespace), data in by_target.items():
            try:
                client = connect_to(aws_access_key_id=account, region_name=region).cloudwatch
                for start in range(0, len(data), 1000):
                    client.put_metric_data(Namespace=namespace, MetricData=data[start : start + 1000])
            except Exception as err:  # noqa: BLE001 - metrics must never break the calls they count
                LOG.info("could not publish %s metrics: %s", namespace, err)


def _lambda_key(account: str, region: str, function: str, metric: str) -> Key:
    return (account, region, "AWS/Lambda", "FunctionName", function, metric, "Count")


def batched_log_loop(self: Any, *args: Any, **kwargs: Any) -> None:
    """Replacement for LogHandler.run_log_loop: per round, one PutLogEvents per stream and
    batch (PutLogEvents' limits)."""
    from localstack.aws.connect import connect_to
    from localstack.services.lambda_.invocation.logs import QUEUE_SHUTDOWN
    from localstack.utils.aws.client_types import ServicePrincipal

    logs_client = connect_to.with_assumed_role(
        region_name=self.region, role_arn=self.role_arn, service_principal=ServicePrincipal.lambda_
    ).logs
    while not self._shutdown_event.is_set():
        items = [self.log_queue.get()]
        # A short window gathers the logs of invokes finishing together into one call per stream.
        window_ends = time.monotonic() + LOG_WINDOW_S
        while len(items) < MAX_LOG_ITEMS and items[-1] is not QUEUE_SHUTDOWN:
            try:
                items.append(self.log_queue.get(timeout=max(window_ends - time.monotonic(), 0)))
            except Empty:
                break
        _store_round(logs_client, items)
        if QUEUE_SHUTDOWN in items:
            return


# PutLogEvents' limits (CloudWatch Logs API reference, PutLogEvents): a batch holds at most
# 10,000 events and 1,048,576 bytes, counted as each message's UTF-8 size plus 26 bytes.
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26


def log_batches(lines: Iterable[str], stamp: int) -> Iterator[list[dict[str, Any]]]:
    """Log events of `lines` in batches within PutLogEvents' limits, made one batch at a time:
    a function that printed 5 MB never has all its events in memory at once (one call of all of
    them cost the engine about their size again in memory it did not give back)."""
    batch: list[dict[str, Any]] = []
    size = 0
    for line in lines:
        message = line + "\n"
        cost = len(message.encode()) + EVENT_OVERHEAD_BYTES
        if batch and (size + cost > MAX_BATCH_BYTES or len(batch) == MAX_BATCH_EVENTS):
            yield batch
            batch, size = [], 0
        batch.append({"timestamp": stamp, "message": message})
        size += cost
    if batch:
        yield batch


def _store_round(client: Any, items: list[Any]) -> None:
    """Store one round of queued log items, per stream in the order they came."""
    streams: dict[tuple[str, str], list[str]] = defaultdict(list)
    for item in items:
        if hasattr(item, "logs"):  # not QUEUE_SHUTDOWN
            streams[(item.log_group, item.log_stream)].append(item.logs)
    stamp = int(time.time() * 1000)
    for (group, stream), texts in streams.items():
        lines = (line for text in texts for line in text.split("\n") if line)
        for batch in log_batches(lines, stamp):
            if not _put_events(client, group, stream, batch):
                break  # the rest would be refused the same way (a role without logs:PutLogEvents)


def _put_events(client: Any, group: str, stream: str, events: list[dict[str, Any]]) -> bool:
    """Store `events`; False (and a warning) when they could not be."""
    try:
        try:
            client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        except client.exceptions.ResourceNotFoundException:
            with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                client.create_log_group(logGroupName=group)
            client.create_log_stream(logGroupName=group, logStreamName=stream)
            client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    except Exception as err:  # noqa: BLE001 - as LocalStack: log, never break invokes
        LOG.warning("could not store logs in %s/%s: %s", group, stream, err)
        return False
    return True


class _TimerScheduler:
    """One thread that fires every SharedTimer when due; the callback gets its own thread."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, SharedTimer]] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        threading.Thread(target=self._loop, name="testbed-timers", daemon=True).start()

    def add(self, timer: SharedTimer) -> None:
        with self._condition:
            if len(self._heap) > 4096:  # cancelled keep-alive timers pile up: drop them
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (timer.due, next(self._order), timer))
            self._condition.notify()

    def _loop(self) -> None:
        while True:
            with self._condition:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    delay = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._condition.wait(delay)
                _, _, timer = heapq.heappop(self._heap)
            if not timer.cancelled:
                threading.Thread(target=timer.function, name="testbed-timer", daemon=True).start()


_SCHEDULER: _TimerScheduler | None = None


class SharedTimer:
    """Drop-in for the `threading.Timer` uses in LocalStack's execution environment."""

    def __init__(self, interval: float, function: Any) -> None:
        self.interval = interval
        self.function = function
        self.due = 0.0
        self.cancelled = False

    def start(self) -> None:
        global _SCHEDULER
        if _SCHEDULER is None:
            _SCHEDULER = _TimerScheduler()
        self.due = time.monotonic() + self.interval
        _SCHEDULER.add(self)

    def cancel(self) -> None:
        self.cancelled = True


@hooks.on_infra_start()
@only_in_testbed_engine()
def batch_lambda_metrics_and_logs() -> None:
    """Installed through the entry point `localstack.hooks.on_infra_start:testbed_batching`."""
    from localstack.services.lambda_.invocation import execution_environment, version_manager
    from localstack.services.lambda_.invocation.logs import LogHandler
    from localstack.services.sqs import provider as sqs_provider

    batcher = MetricBatcher()
    original_start_thread = version_manager.start_thread

    def start_thread(fn: Any, *args: Any, name: str | None = None, **kwargs: Any) -> Any:
        # The per-invoke metric threads only enqueue now: run them inline.
        if name and name.startswith("record-cloudwatch-metric"):
            return fn()
        return original_start_thread(fn, *args, name=name, **kwargs)

    version_manager.record_cw_metric_invocation = batcher.invocation
    version_manager.record_cw_metric_error = batcher.error
    version_manager.start_thread = start_thread
    LogHandler.run_log_loop = batched_log_loop
    execution_environment.Timer = SharedTimer
    # SQS publishes one metric per message sent, received or deleted: batch those too.
    sqs_provider.publish_sqs_metric = batcher.sqs_metric
    sqs_provider.publish_sqs_metric_batch = batcher.sqs_metric_batch
