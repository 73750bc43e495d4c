"""Event source mappings at AWS's pace: a record reaches its function within about a second.

LocalStack 4.14.0's mapping workers poll, and after every empty poll back off exponentially
from 1 s up to `LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC` (10 s), and wait
`LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC` (1 s) after every poll that found something:
on an idle queue a message waits up to 10 s, each hop of a pipeline as long. AWS:

- SQS: Lambda's pollers long-poll the queue (ReceiveMessage with WaitTimeSeconds up to 20), so
  a message is handed over as soon as it arrives
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html,
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html).
  Here too: a mapping without a batching window long-polls for 20 s, and polls again at once
  after an empty long poll. LocalStack's SQS wakes a waiting receive when a message arrives,
  so an idle mapping costs one request every 20 s, not a busy loop.
- Kinesis: "Lambda polls each shard in your Kinesis stream for records at a base rate of once
  per second" (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html); DynamoDB Streams
  "at a base rate of 4 times per second" (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html).
  Here each shard is polled once a second (STREAM_POLLS_PER_SECOND), with no back-off
  (LocalStack polls every shard once a second after its 1 s poll interval; the interval now
  belongs to each poller).

A mapping deleted or disabled during a long poll hands any message that poll receives back to
the queue (visible at once) instead of invoking the function. Setting any of LocalStack's
`LAMBDA_EVENT_SOURCE_MAPPING_*` pacing variables for the engine (`testbed up --setting`) leaves
LocalStack's own pacing in place.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from types import ModuleType
from typing import Any

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.imports import after_import
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

LOG = logging.getLogger(__name__)

PACKAGE = "localstack.services.lambda_.event_source_mapping"
WORKER_MODULE = f"{PACKAGE}.esm_worker"
SQS_POLLER_MODULE = f"{PACKAGE}.pollers.sqs_poller"
STREAM_POLLER_MODULE = f"{PACKAGE}.pollers.stream_poller"
# LocalStack's own pacing; when the engine was given any of them, its pacing stays.
POLL_INTERVAL_SETTING = "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC"
PACING_SETTINGS = (POLL_INTERVAL_SETTING, "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC")
LONG_POLL_SECONDS = 20  # SQS's longest WaitTimeSeconds, what Lambda's pollers use
# AWS's base rates are 1/s (Kinesis) and 4/s (DynamoDB Streams). Once a second for both: measured,
# twice a second cost an idle engine with three mappings 9.6 % of a core instead of 5.7 %, for a
# median hop no shorter than the half second a once-a-second poll gives (docs/cloudformation.md).
STREAM_POLLS_PER_SECOND = {"aws:kinesis": 1.0, "aws:dynamodb": 1.0}
# Set on a poller by its worker: the worker's shutdown event (set when the mapping is deleted or disabled).
STOPPED_ATTRIBUTE = "_testbed_stopped"


def stream_pause(event_source: str, shards: int, elapsed: float) -> float:
    """How long a stream poller waits after an empty poll of one shard (it polls its shards in turn),
    so that each shard is polled at AWS's base rate for that source."""
    rate = STREAM_POLLS_PER_SECOND.get(event_source, 1.0)
    return max(0.0, 1.0 / rate / max(1, shards) - elapsed)


@hooks.on_infra_start()
@only_in_testbed_engine(fidelity=True)  # off in stock mode: the engine answers as stock LocalStack
def event_source_mappings_at_aws_pace() -> None:
    if given := [name for name in PACING_SETTINGS if os.environ.get(name)]:
        LOG.info("event source mappings keep LocalStack's pacing: %s set for this engine", ", ".join(given))
        return
    after_import(WORKER_MODULE, _patch_worker)
    after_import(SQS_POLLER_MODULE, _patch_sqs_poller)
    after_import(STREAM_POLLER_MODULE, _patch_stream_poller)


def _patch_worker(module: ModuleType) -> None:
    # The pollers below pace themselves: no extra wait after a poll that found something.
    setattr(module, POLL_INTERVAL_SETTING, 0)  # the worker module's copy, read by poller_loop at each turn
    original = module.EsmWorker.poller_loop

    def poller_loop(self: Any, *args: Any, **kwargs: Any) -> Any:
        setattr(self.poller, STOPPED_ATTRIBUTE, self._shutdown_event)
        return original(self, *args, **kwargs)

    module.EsmWorker.poller_loop = poller_loop


def _stopped(poller: Any) -> threading.Event | None:
    event = getattr(poller, STOPPED_ATTRIBUTE, None)
    return event if isinstance(event, threading.Event) else None


def _patch_sqs_poller(module: ModuleType) -> None:
    poller_class = module.SqsPoller
    original_init = poller_class.__init__
    original_poll = poller_class.poll_events
    original_handle = poller_class.handle_messages
    empty = module.EmptyPollResultsException

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if not self.maximum_batching_window:
            # A long poll: ReceiveMessage returns as soon as a message is there (<= 20 s: no batching wait).
            self.maximum_batching_window = LONG_POLL_SECONDS

    def poll_events(self: Any) -> None:
        try:
            original_poll(self)
        except empty:
            return  # a long poll that found nothing: poll again at once, no back-off

    def handle_messages(self: Any, messages: list[dict[str, Any]]) -> Any:
        stopped = _stopped(self)
        if stopped is not None and stopped.is_set():
            # The mapping went away while its poll waited: the messages are the queue's again.
            entries = [
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                for index, message in enumerate(messages)
            ]
            for start in range(0, len(entries), 10):
                self.source_client.change_message_visibility_batch(
                    QueueUrl=self.queue_url, Entries=entries[start : start + 10]
                )
            return None
        return original_handle(self, messages)

    poller_class.__init__ = __init__
    poller_class.poll_events = poll_events
    poller_class.handle_messages = handle_messages


def _patch_stream_poller(module: ModuleType) -> None:
    poller_class = module.StreamPoller
    original_poll = poller_class.poll_events
    empty = module.EmptyPollResultsException

    def poll_events(self: Any) -> None:
        # A stream poll that finds nothing returns normally (an empty GetRecords may only move the
        # iterator on), so every poll is paced: each shard at the base rate, never faster.
        started = time.monotonic()
        try:
            original_poll(self)
        except empty:
            pass  # no shards yet: wait as for an empty poll
        finally:
            pause = stream_pause(self.event_source(), len(self.shards or {}), time.monotonic() - started)
            stopped = _stopped(self)
            if stopped is not None:
                stopped.wait(pause)
            else:
                time.sleep(pause)

    poller_class.poll_events = poll_events
