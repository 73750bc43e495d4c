"""A bound on the execution environments (worker processes) of each function version.

LocalStack starts a new execution environment whenever an invocation finds none free, up
to the account's concurrency (1,000): a Distributed Map with MaxConcurrency 8 over two
functions leaves 16 workers of about 50 MB each, on a machine whose two cores run at
most two of them at a time. With this bound at most TESTBED_LAMBDA_MAX_ENVIRONMENTS
invocations of one function version run at once (default: one per core, at least 2 and at
most 4); the others wait for one to finish, as long as a few of the function's timeouts,
then fail naming the setting. AWS would start more sandboxes instead: only the waiting
differs, not the results. More workers than cores only cost memory: on this project's
2-core machine a bound of 2 instead of 4 ingests 50,000 sales records in 23.2 s instead of
25.6 s, with a peak of 1,172 MB instead of 1,340 MB (`testbed bench --sales 50000`).
Provisioned-concurrency environments are not bounded here (LocalStack keeps them apart).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

MAX_ENVIRONMENTS_VAR = "TESTBED_LAMBDA_MAX_ENVIRONMENTS"
MAX_ENVIRONMENTS_DEFAULT = min(4, max(2, os.cpu_count() or 2))  # one per core, 2 to 4
_PATCHED = "_testbed_environment_bound"


def max_environments(environ: Mapping[str, str] | None = None) -> int:
    """The bound from TESTBED_LAMBDA_MAX_ENVIRONMENTS (a positive whole number, else the
    default); anything else is refused naming the variable."""
    value = ((os.environ if environ is None else environ).get(MAX_ENVIRONMENTS_VAR) or "").strip()
    if not value:
        return MAX_ENVIRONMENTS_DEFAULT
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{MAX_ENVIRONMENTS_VAR}={value!r} is not a positive whole number")
    return int(value)


def wait_limit_s(function_timeout_s: float) -> float:
    """How long an invocation waits for a free environment: a few of the function's timeouts."""
    return 3 * max(function_timeout_s, 60) + 60


class Bound:
    """One semaphore of `limit` permits per function version (keyed by its manager id)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._permits: dict[str, threading.BoundedSemaphore] = {}

    def permits(self, version_manager_id: str) -> threading.BoundedSemaphore:
        with self._lock:
            return self._permits.setdefault(version_manager_id, threading.BoundedSemaphore(self.limit))

    @contextlib.contextmanager
    def held(self, version_manager_id: str, what: str, timeout_s: float) -> Iterator[None]:
        """Hold a permit of the function version for one invocation; TimeoutError after `timeout_s`."""
        permits = self.permits(version_manager_id)
        if not permits.acquire(timeout=timeout_s):
            raise TimeoutError(
                f"no execution environment of {what} became free in {timeout_s:g} s "
                f"(at most {self.limit} at once: {MAX_ENVIRONMENTS_VAR})"
            )
        try:
            yield
        finally:
            permits.release()


def install(assignment_module: Any, limit: int | None = None) -> Bound:
    """Bound AssignmentService.get_environment of LocalStack's Lambda (once); the Bound used."""
    service = assignment_module.AssignmentService
    existing: Bound | None = getattr(service, _PATCHED, None)
    if existing is not None:
        return existing
    from localstack.services.lambda_.invocation.lambda_models import InitializationType

    bound = Bound(max_environments() if limit is None else limit)
    original: Callable[..., Any] = service.get_environment

    @contextlib.contextmanager
    def get_environment(self: Any, version_manager_id: str, function_version: Any, provisioning_type: Any) -> Any:
        if provisioning_type != InitializationType.on_demand:
            with original(self, version_manager_id, function_version, provisioning_type) as environment:
                yield environment
            return
        timeout = wait_limit_s(float(function_version.config.timeout or 3))
        with (
            bound.held(version_manager_id, function_version.qualified_arn, timeout),
            original(self, version_manager_id, function_version, provisioning_type) as environment,
        ):
            yield environment

    service.get_environment = get_environment
    setattr(service, _PATCHED, bound)
    return bound
