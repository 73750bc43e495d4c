"""`POST /_testbed/reset`: empty a running engine of everything but itself, in seconds.

LocalStack 4.14.0 (the free build) has no state reset endpoint (`/_localstack/state/reset` is
part of its paid build), but its services carry what such a reset needs: each service's
lifecycle hooks `on_before_state_reset`/`on_after_state_reset` (Lambda stops its event source
mappings and execution environments, Kinesis stops kinesis-mock) and its state containers
(LocalStack stores, moto backends, asset folders), reached through `accept_state_visitor`. This
endpoint runs them for every service the engine has loaded, then empties the testbed's own
state the same way:

- emptied: every resource of every service (stacks, functions and their workers, queues, tables,
  streams, state machines and executions, roles...), the fault rules, the IAM denials listed;
- kept: the engine itself (process, port, folder, record), its settings (mode, IAM enforcement,
  Retry scale, LocalStack settings), and the standby interpreters of the Lambda executor, which
  belong to no function.

Body (optional JSON): {"mock_config": "/abs/path/MockConfigFile.json"} makes that file the
engine's Step Functions Local mock configuration (`SFN_MOCK_CONFIG`) from now on; with
"empty": false only that is done. Answers
{"reset": [services], "failed": {service: error}, "seconds": s, "mock_config": path or null}.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from functools import singledispatch
from pathlib import Path
from typing import Any

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

LOG = logging.getLogger(__name__)
RESET_PATH = "/_testbed/reset"


@hooks.on_infra_start()
@only_in_testbed_engine()  # not a fidelity patch: it acts only when asked
def engine_reset() -> None:
    from localstack.services.edge import ROUTER

    ROUTER.add(RESET_PATH, reset_endpoint, methods=["POST"])


def _reset_visitor() -> Any:
    from localstack.services.stores import AccountRegionBundle
    from localstack.state import AssetDirectory, StateVisitor
    from moto.core.base_backend import BackendDict

    @singledispatch
    def reset(container: Any) -> None:
        LOG.debug("reset: %s left as it is (%s)", container, type(container).__name__)

    @reset.register(AccountRegionBundle)
    def _(container: AccountRegionBundle) -> None:
        container.reset()

    @reset.register(BackendDict)
    def _(container: BackendDict) -> None:
        container.reset()

    @reset.register(AssetDirectory)
    def _(container: AssetDirectory) -> None:
        shutil.rmtree(container.path, ignore_errors=True)

    class Reset(StateVisitor):
        def visit(self, state_container: Any) -> None:
            reset(state_container)

    return Reset()


def reset_services() -> tuple[list[str], dict[str, str]]:
    """Reset every loaded service; (the services reset, {service: error} for those that failed)."""
    from localstack.services.plugins import SERVICE_PLUGINS

    done: list[str] = []
    failed: dict[str, str] = {}
    visitor = _reset_visitor()
    for name in SERVICE_PLUGINS.list_loaded_services():
        service = SERVICE_PLUGINS.get_service(name)
        if service is None:
            continue
        try:
            service.lifecycle_hook.on_before_state_reset()
            service.accept_state_visitor(visitor)
            service.lifecycle_hook.on_after_state_reset()
        except Exception as err:  # one service failing is reported; the others are still reset
            LOG.exception("reset of %s failed", name)
            failed[name] = f"{type(err).__name__}: {err}"
        else:
            done.append(name)
    return done, failed


def use_mock_config(path: str) -> None:
    """Make `path` the engine's Step Functions Local mock configuration; ValueError when it is not one."""
    from localstack import config

    file = Path(path)
    if not file.is_absolute():
        raise ValueError(f"mock_config {path!r} is not an absolute path")
    try:
        json.loads(file.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"mock_config {path} cannot be read as JSON: {err}") from err
    config.SFN_MOCK_CONFIG = str(file)


def reset_endpoint(request: Any) -> Any:
    """`POST /_testbed/reset` (module docstring)."""
    from localstack.http import Response
    from serverless_testbed.localstack_plugins.faults import BOOK
    from serverless_testbed.localstack_plugins.iam_enforcement import DENIALS

    started = time.monotonic()
    try:
        body = json.loads(request.get_data() or b"{}")
        body = body if isinstance(body, dict) else {}
        if (mock_config := body.get("mock_config")) is not None:
            use_mock_config(str(mock_config))
    except ValueError as err:
        return Response(json.dumps({"error": str(err)}), status=400, mimetype="application/json")
    done: list[str] = []
    failed: dict[str, str] = {}
    if body.get("empty", True) is not False:
        done, failed = reset_services()
        BOOK.clear()
        DENIALS.clear()
    from localstack import config

    return {
        "reset": done,
        "failed": failed,
        "seconds": round(time.monotonic() - started, 3),
        "mock_config": config.SFN_MOCK_CONFIG or None,
    }
