"""`testbed run` tells the truth: a run finds its own records and messages whatever else
is in the queues, and runs with the same seed (one after the other, or at once) do not
see each other's data. Through the real runners, on the real engine."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.errors import WaitTimeout
from serverless_testbed.observe import collect
from serverless_testbed.runs import RunOptions, RunResult, runners
from serverless_testbed.stack.stack import Stack
from serverless_testbed.waiting import wait_for

from infra.workflows import orders as orders_workflow
from infra.workflows import sales as sales_workflow

WORKFLOWS = ("orders", "sales", "csv-etl", "router", "processing")
FOREIGN = 12  # more than one receive's worth: the old drain was handed these ten again and again


def foreign_body(index: int, tag: str = "") -> str:
    """Messages a run must leave alone: JSON of another shape, and text that is no JSON at all."""
    if index % 2:
        return json.dumps({"source": f"s3://elsewhere/{tag}.csv", "line": index, "reasons": ["x"]})
    return f"not json {tag} {index}"


def run(deployer: Deployer, stack: Stack, workflow: str, options: RunOptions) -> RunResult:
    return runners()[workflow](deployer, stack, options)


def verdict(result: RunResult) -> str:
    return f"{result.workflow} run {result.run_id}: {len(result.problems)} problem(s): {result.problems[:5]}"


def remaining(aws: Clients, url: str, bodies: set[str], timeout: float = 30) -> set[str]:
    """Which of `bodies` are still in the queue (each received once, then deleted: they are
    this test's own)."""
    found: set[str] = set()

    def all_back() -> bool:
        found.update(m["Body"] for m in collect(aws, url, count=0, keep=lambda m: m["Body"] in bodies).messages)
        return found >= bodies

    with contextlib.suppress(WaitTimeout):  # the caller compares what came back with what was sent
        wait_for(all_back, timeout=timeout, what=f"{len(bodies)} messages back on {url}")
    return found


@pytest.fixture
def sales_dead_letters(aws: Clients, deploy: Callable[[str], Stack], deployer: Deployer) -> str:
    """The deployed sales dead-letter queue's URL."""
    stack = deploy("sales")
    name = stack.bind(deployer.ctx).attribute(sales_workflow.QUEUE, "name")
    url: str = aws("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return url


def test_a_drain_walks_past_other_messages_and_leaves_them_in_the_queue(
    aws: Clients, make_queue: Callable[..., str]
) -> None:
    url = make_queue()
    sqs = aws("sqs")
    others = {foreign_body(index) for index in range(25)}
    for body in sorted(others):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    mine = {json.dumps({"run": "mine", "n": n}) for n in range(3)}
    for body in sorted(mine):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    got = collect(aws, url, count=3, keep=lambda m: json.loads(m["Body"]).get("run") == "mine", visibility=1)

    assert {m["Body"] for m in got.messages} == mine
    assert got.foreign == 25, f"expected the 25 other messages counted, saw {got.foreign}"
    assert remaining(aws, url, others) == others, "the other messages must stay in the queue for their owners"


def test_sales_finds_its_dead_letters_behind_other_messages(
    aws: Clients, deploy: Callable[[str], Stack], deployer: Deployer, sales_dead_letters: str
) -> None:
    stack = deploy("sales")
    tag = uuid.uuid4().hex[:8]
    # Dead letters of some other file: a keep that cannot read a body never saw those at all.
    others = {foreign_body(2 * index + 1, tag) for index in range(FOREIGN)}
    for body in sorted(others):
        aws("sqs").send_message(QueueUrl=sales_dead_letters, MessageBody=body)

    result = run(deployer, stack, "sales", RunOptions(records=20, invalid_rate=0.2, seed=21))

    assert result.ok, verdict(result)
    assert result.counts["records"] == 20, result.counts  # 10 in each of the two files
    assert result.counts["rejected"] == 4, result.counts  # 2 bad records in each of the two files
    assert result.counts.get("other_messages", 0) >= FOREIGN, result.counts
    assert remaining(aws, sales_dead_letters, others) == others, "the run must not delete others' dead letters"


def test_orders_finds_its_notifications_among_other_publishers(
    aws: Clients, deploy: Callable[[str], Stack], deployer: Deployer
) -> None:
    """Another publisher on the topic sends FOREIGN notifications as soon as the run's
    capture is subscribed, ahead of the run's own."""
    stack = deploy("orders")
    topic = stack.bind(deployer.ctx).arn(orders_workflow.TOPIC)
    sns = aws("sns")
    before = {s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]}
    published = threading.Event()

    def publish_when_subscribed() -> None:
        def new_capture() -> bool:
            current = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
            return any(s["SubscriptionArn"] not in before and "capture-" in s["Endpoint"] for s in current)

        wait_for(new_capture, timeout=30, what=f"the run's capture subscribed to {topic}")
        for index in range(FOREIGN):
            attributes = {"orderID": {"DataType": "String", "StringValue": f"O-elsewhere-{index}"}}
            sns.publish(TopicArn=topic, Message=foreign_body(index), MessageAttributes=attributes)
        published.set()

    with ThreadPoolExecutor(max_workers=1) as pool:
        publisher = pool.submit(publish_when_subscribed)
        result = run(deployer, stack, "orders", RunOptions(records=20, invalid_rate=0.1, seed=22))
        publisher.result()

    assert published.is_set()
    assert result.ok, verdict(result)
    assert result.counts["notified"] == result.counts["approved"] == 18, result.counts


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_the_same_seed_twice_gives_two_true_runs(
    workflow: str, deploy: Callable[[str], Stack], deployer: Deployer
) -> None:
    stack = deploy(workflow)
    first = run(deployer, stack, workflow, RunOptions(records=12, invalid_rate=0.25, seed=23))
    second = run(deployer, stack, workflow, RunOptions(records=12, invalid_rate=0.25, seed=23))

    assert first.ok, verdict(first)
    assert second.ok, verdict(second)
    assert first.run_id != second.run_id
    assert _without_others(first.counts) == _without_others(second.counts)


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_two_runs_at_once_with_the_same_seed_each_see_only_their_own(
    workflow: str, deploy: Callable[[str], Stack], deployer: Deployer
) -> None:
    stack = deploy(workflow)
    if workflow == "router":
        # LocalStack 4.14.0 hands a second caller kinesis-mock before it listens (its server
        # manager publishes the server before wait_is_up): start it with one run first.
        warm = run(deployer, stack, workflow, RunOptions(records=2, seed=24))
        assert warm.ok, verdict(warm)
    options = [RunOptions(records=12, invalid_rate=0.25, seed=24) for _ in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda option: run(deployer, stack, workflow, option), options))

    for result in results:
        assert result.ok, verdict(result)
    assert _without_others(results[0].counts) == _without_others(results[1].counts)


def _without_others(counts: dict[str, int]) -> dict[str, int]:
    """The counts a run's own data decides (how many others' messages it met varies)."""
    return {name: value for name, value in counts.items() if name != "other_messages"}
