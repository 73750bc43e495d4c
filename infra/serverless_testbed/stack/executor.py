"""Apply: run a plan's calls in order, wait where AWS is eventually consistent.

On real AWS a role is not usable the moment it is created, a table or stream is not
active when CreateTable returns, and a queue or state machine name is not free the
moment its deletion returns. The executor retries the calls refused for those reasons
(bounded, saying why: `serverless_testbed.stack.answers`), treats "no such resource" as done for
deletions, checks answers that report refused entries in their body, and runs each
call's waiter at short intervals of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jmespath
from botocore import xform_name
from botocore.exceptions import ClientError
from serverless_testbed.clients import Clients
from serverless_testbed.errors import (
    DeployError as DeployError,  # defined with the other errors; imported from here too
)
from serverless_testbed.errors import WaitTimeout
from serverless_testbed.stack.answers import GONE_CODES, answer_failures, not_yet, operation_name, refused_in_answer
from serverless_testbed.stack.calls import Call, Deferred, Saved
from serverless_testbed.stack.planner import Change
from serverless_testbed.waiting import wait_for

# How long a refusal that passes with time (answers.not_yet) is retried. SQS keeps a
# deleted queue's name 60 s; IAM propagation and state machine deletion take seconds to
# a minute. Intervals grow from the first to the last (module values: tests shorten them).
RETRY_FOR_SECONDS = 150.0
RETRY_FIRST_INTERVAL = 0.25
RETRY_MAX_INTERVAL = 10.0

# How long a waiter polls (botocore's own: 120 polls 1 s apart), from milliseconds apart
# (an emulator is ready at once) growing to a second (AWS takes seconds).
WAIT_FOR_SECONDS = 120.0
WAIT_FIRST_INTERVAL = 0.02
WAIT_MAX_INTERVAL = 1.0

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Outcome:
    """What one attempt ended in: an answer, or an error to raise."""

    response: Any = None
    error: Exception | None = None


def apply(
    changes: list[Change],
    clients: Clients,
    report: Callable[[Change], None] | None = None,
    notify: Callable[[str], None] | None = None,
) -> None:
    """Run every call of `changes` in order; `report` hears of each change done, `notify`
    of each wait (what AWS answered and why it passes with time)."""
    for change in changes:
        saved: dict[str, Any] = {}
        for call in change.calls:
            where = f"{change.action} {change.kind} {change.name}"
            try:
                response = _run(call, clients, saved, where, notify or _log.warning)
            except ClientError as err:
                raise DeployError(f"{where}: {call.service}.{call.operation} failed: {err}") from err
            for key, path in call.save.items():
                saved[key] = jmespath.search(path, response)
        if report:
            report(change)


def _run(call: Call, clients: Clients, saved: Mapping[str, Any], where: str, notify: Callable[[str], None]) -> Any:
    client = clients(call.service)
    params = _fill(call.params, saved, clients)
    run = call.run
    if run is not None:  # a step of the deployer's own (empty a bucket, wait for a mapping)
        return call_until_accepted(
            lambda: run(client, **params), call.service, call.operation, call.gone_ok, where, notify
        )
    response = call_until_accepted(
        lambda: getattr(client, call.operation)(**params), call.service, call.operation, call.gone_ok, where, notify
    )
    if call.waiter:
        wait_until(client, call.waiter, _fill(call.waiter_params, saved, clients), where)
    return response


def wait_until(client: Any, waiter: str, params: Mapping[str, Any], where: str) -> Any:
    """Poll what botocore's waiter `waiter` polls, judged by its acceptors, at our own short,
    growing intervals (botocore sleeps its fixed Delay, 1 to 5 s, before every poll after the
    first: most of a deploy's time on an emulator, where resources are ready in milliseconds).
    Bounded by WAIT_FOR_SECONDS; a failure state or an error no acceptor expects ends it."""
    from botocore.waiter import NormalizedOperationMethod  # answers a ClientError as its error response

    model = client.get_waiter(waiter).config
    poll = NormalizedOperationMethod(getattr(client, xform_name(model.operation)))
    seen: list[Any] = []

    def attempt() -> _Outcome | None:
        response = poll(**params)
        seen[:] = [_summary(response)]
        for acceptor in model.acceptors:
            if acceptor.matcher_func(response):
                if acceptor.state == "success":
                    return _Outcome(response)
                if acceptor.state == "failure":
                    return _Outcome(error=DeployError(f"{where}: {waiter} ended in a failure state: {seen[0]}"))
                return None  # "retry": not there yet
        if "Error" in response:
            return _Outcome(error=DeployError(f"{where}: {waiter} got an error it does not expect: {seen[0]}"))
        return None

    try:
        outcome = wait_for(
            lambda: _guarded(attempt),
            timeout=WAIT_FOR_SECONDS,
            interval=WAIT_FIRST_INTERVAL,
            max_interval=WAIT_MAX_INTERVAL,
            what=f"{where}: {waiter}",
        )
    except WaitTimeout as err:
        raise DeployError(f"{err}; last answer: {seen[0] if seen else 'none'}") from err
    if outcome.error is not None:
        raise outcome.error
    return outcome.response


def _guarded(attempt: Callable[[], _Outcome | None]) -> _Outcome | None:
    """Any exception of one poll is final (wait_for would count it as "not yet")."""
    try:
        return attempt()
    except Exception as err:  # noqa: BLE001 - handed to the caller as it is
        return _Outcome(error=err)


def _summary(response: Any) -> str:
    """An answer in one line, without its request metadata."""
    if isinstance(response, Mapping):
        response = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    text = repr(response)
    return text if len(text) <= 400 else text[:400] + "..."


def call_until_accepted(
    invoke: Callable[[], Any],
    service: str,
    operation: str,
    gone_ok: bool,
    where: str,
    notify: Callable[[str], None],
) -> Any:
    """`invoke()` until AWS accepts it: refusals that pass with time are retried (bounded,
    saying why), entries an answer reports as not done are refusals too, and for a
    deletion (`gone_ok`) "no such resource" is success (an empty answer)."""
    started = time.monotonic()
    told: set[str] = set()

    def attempt() -> _Outcome | None:
        try:
            response = invoke()
            failures = answer_failures(service, operation, response)
            if failures and not (gone_ok and all(f.code in GONE_CODES for f in failures)):
                raise refused_in_answer(operation, failures)
            return _Outcome(response)
        except ClientError as err:
            error = err.response.get("Error", {})
            code, message = str(error.get("Code", "")), str(error.get("Message", ""))
            if gone_ok and code in GONE_CODES:
                return _Outcome({})  # already gone: what the deletion was for
            why = not_yet(code, message)
            if why is None:
                return _Outcome(error=err)
            waited = time.monotonic() - started
            if waited > RETRY_FOR_SECONDS:
                return _Outcome(error=_gave_up(err, operation, code, why, waited))
            if code not in told:
                told.add(code)
                bound = f"retrying for up to {RETRY_FOR_SECONDS:.0f} s"
                notify(f"{where}: {service}.{operation} answered {code}: {why}; {bound}")
            return None
        except Exception as err:  # noqa: BLE001 - anything else is final: handed to the caller as it is
            return _Outcome(error=err)

    outcome = wait_for(
        attempt,
        timeout=RETRY_FOR_SECONDS + 2 * RETRY_MAX_INTERVAL,  # a backstop: attempt() gives up first
        interval=RETRY_FIRST_INTERVAL,
        max_interval=RETRY_MAX_INTERVAL,
        what=f"{service}.{operation} to be accepted",
    )
    if outcome.error is not None:
        raise outcome.error
    return outcome.response


def _gave_up(err: ClientError, operation: str, code: str, why: str, waited: float) -> ClientError:
    message = (
        f"still {code} after {waited:.0f} s of retries ({why}): {err.response.get('Error', {}).get('Message', '')}"
    )
    return ClientError({"Error": {"Code": code, "Message": message}}, operation_name(operation))


def _fill(value: Any, saved: Mapping[str, Any], clients: Clients) -> Any:
    if isinstance(value, Saved):
        if value.key not in saved:
            raise DeployError(f"no value saved for {value.key}")
        return value.render(saved[value.key])
    if isinstance(value, Deferred):
        return value.lookup(clients)
    if isinstance(value, Mapping):
        return {key: _fill(item, saved, clients) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_fill(item, saved, clients) for item in value]
    return value
