"""Step Functions task clients, cached (an on_infra_start hook).

LocalStack 4.14.0 builds a new boto3 client for every Task state, after an STS
AssumeRole call for the state machine's role: about 90 ms per Lambda or SDK task on
this machine, most of a short execution. The client for a (service, region, role) is
the same each time, so the engine keeps it for a while; credentials of assumed roles
are not checked by the emulator, and the cache is refreshed well before AWS's
default session length of an hour.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

LOG = logging.getLogger(__name__)
TTL_SECONDS = 600.0


@hooks.on_infra_start()
@only_in_testbed_engine()
def cache_step_functions_task_clients() -> None:
    from localstack.services.stepfunctions.asl.utils import boto_client

    original = boto_client.boto_client_for
    cache: dict[tuple[str, str, str | None], tuple[float, Any]] = {}
    lock = threading.Lock()

    def boto_client_for(service: str, region: str, state_credentials: Any) -> Any:
        key = (service, region, getattr(state_credentials, "role_arn", None))
        now = time.monotonic()
        with lock:
            hit = cache.get(key)
            if hit and now - hit[0] < TTL_SECONDS:
                return hit[1]
        client = original(service=service, region=region, state_credentials=state_credentials)
        with lock:
            cache[key] = (now, client)
        return client

    boto_client.boto_client_for = boto_client_for
    # Task modules import the function by name: those imported later get the cached one;
    # those already imported (another hook may have) are pointed at it here.
    for name, module in list(sys.modules.items()):
        if (
            name.startswith("localstack.services.stepfunctions")
            and getattr(module, "boto_client_for", None) is original
        ):
            setattr(module, "boto_client_for", boto_client_for)  # noqa: B010 - module attribute patch
    LOG.debug("step functions task clients are cached")
