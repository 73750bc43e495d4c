"""The LocalStack hooks this package registers act only inside an engine the project started,
and the fidelity patch not in stock mode (infra/serverless_testbed/localstack_plugins/scope.py).

Each case runs in a fresh interpreter: it loads every `localstack.hooks.on_infra_start` entry
point of pyproject.toml as LocalStack does, calls it, and reports which LocalStack functions
were replaced. Nothing is mocked: the real hooks patch (or leave) the real LocalStack modules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
from serverless_testbed.engine.embedded import localstack_environment
from serverless_testbed.errors import BadInput
from serverless_testbed.localstack_plugins.scope import engine_mode, fidelity_patches_on, inside_testbed_engine

ROOT = Path(__file__).resolve().parents[2]
NOTHING = {
    "batching": False,
    "task_clients": False,
    "fidelity": False,
    "lambda_layers": False,
    "network": False,
    "storage": False,
    "faults": False,
    "lambda_limits": False,
    "function_urls": False,
    "iam": False,
    "jsonata": False,
    "sfn_describe": False,
    "sfn_retry": False,
    "sfn_map_runs": False,
    "cloudformation": False,
    "event_source_mappings": False,
    "reset": False,
}
HOOK_GROUP = "localstack.hooks.on_infra_start"

# Loads the hooks through their entry points, calls them, then looks at what each one patches.
PROBE = """
import importlib, importlib.metadata, json, sys
names = json.loads(sys.argv[1])
before = {}
from localstack.services.lambda_.invocation import version_manager
from localstack.services.stepfunctions.asl.utils import boto_client
before["batching"] = version_manager.record_cw_metric_invocation
before["task_clients"] = boto_client.boto_client_for
from localstack.services.stepfunctions.asl.static_analyser import variable_references_static_analyser as refs
before["sfn_describe"] = refs.VariableReferencesStaticAnalyser.process_and_get
for entry in importlib.metadata.entry_points(group="localstack.hooks.on_infra_start"):
    if entry.name in names:
        entry.load()()
from serverless_testbed.localstack_plugins.fidelity import DYNAMODB_TASK_MODULE, LAMBDA_PROVIDER_MODULE
from serverless_testbed.localstack_plugins.network import TWISTED_SERVER_MODULE
dynamodb_task = importlib.import_module(DYNAMODB_TASK_MODULE)
twisted_server = importlib.import_module(TWISTED_SERVER_MODULE)
from serverless_testbed.localstack_plugins.function_urls import ROUTER_MODULE
url_router = importlib.import_module(ROUTER_MODULE)
from serverless_testbed.localstack_plugins.jsonata import JSONATA_MODULE
jsonata_module = importlib.import_module(JSONATA_MODULE)
from localstack.aws import handlers
from localstack.services.stepfunctions.asl.component.common.retry import retrier_decl
from serverless_testbed.localstack_plugins.sfn_map_runs import COMPONENT_MODULE
map_runs = importlib.import_module(COMPONENT_MODULE)
from serverless_testbed.localstack_plugins.cloudformation import EXECUTOR_MODULE
cfn_executor = importlib.import_module(EXECUTOR_MODULE)
from serverless_testbed.localstack_plugins.event_source_mappings import WORKER_MODULE
esm_worker = importlib.import_module(WORKER_MODULE)
from localstack.services.edge import ROUTER
ours = lambda fn: fn.__module__.startswith("serverless_testbed.localstack_plugins")
chain = handlers.serve_custom_service_request_handlers.handlers
print(json.dumps({
    "batching": version_manager.record_cw_metric_invocation is not before["batching"],
    "task_clients": boto_client.boto_client_for is not before["task_clients"],
    "fidelity": ours(dynamodb_task.StateTaskServiceDynamoDB._eval_service_task),
    "lambda_layers": ours(importlib.import_module(LAMBDA_PROVIDER_MODULE).LambdaProvider.list_layers),
    "network": ours(twisted_server.TwistedRuntimeServer.register),
    "storage": importlib.import_module("localstack.services.s3.provider").DEFAULT_S3_TMP_DIR
    != "/tmp/localstack-s3-storage",
    "faults": any(h.__module__ == "serverless_testbed.localstack_plugins.faults" for h in chain),
    "lambda_limits": any(h.__module__ == "serverless_testbed.localstack_plugins.lambda_limits" for h in chain),
    "iam": any(h.__module__ == "serverless_testbed.localstack_plugins.iam_enforcement" for h in chain),
    "function_urls": ours(url_router.FunctionUrlRouter.register_routes),
    "jsonata": getattr(jsonata_module._eval_jsonata, "__module__", None)
    == "serverless_testbed.localstack_plugins.jsonata",
    "sfn_describe": refs.VariableReferencesStaticAnalyser.process_and_get is not before["sfn_describe"],
    "sfn_retry": type(retrier_decl.time).__name__ == "ScaledSleep",
    "sfn_map_runs": ours(map_runs.DistributedIterationComponent._map_run),
    "cloudformation": ours(cfn_executor.ChangeSetModelExecutor.visit_node_output),
    "event_source_mappings": ours(esm_worker.EsmWorker.poller_loop),
    "reset": any(rule.rule == "/_testbed/reset" for rule in ROUTER.url_map.iter_rules()),
}))
"""


def registered_hooks() -> dict[str, str]:
    """Entry point name -> object path of this package's on_infra_start hooks (pyproject.toml)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    hooks: dict[str, str] = pyproject["project"]["entry-points"][HOOK_GROUP]
    return hooks


def patched_by_hooks(extra_env: dict[str, str]) -> dict[str, bool]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TESTBED_")}
    env["TMPDIR"] = tempfile.mkdtemp(prefix="hooks-")  # an engine's own temporary folder, as it sets one
    env.update(extra_env)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(sorted(registered_hooks()))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen: dict[str, bool] = json.loads(result.stdout.strip().splitlines()[-1])
    return seen


def test_the_probe_covers_every_registered_hook():
    modules = {path.split(":")[0].rsplit(".", 1)[1] for path in registered_hooks().values()}
    assert modules == {
        "batching",
        "task_clients",
        "fidelity",
        "network",
        "storage",
        "faults",
        "lambda_limits",
        "function_urls",
        "iam_enforcement",
        "jsonata",
        "sfn_describe",
        "sfn_retry_hook",
        "sfn_map_runs",
        "cloudformation",
        "event_source_mappings",
        "reset",
    }, f"a hook was added or removed ({modules}): teach PROBE what it patches"


# An engine of the project's, in full mode with the default settings: every hook patches,
# but the Retry scale (off at its default of 1).
ENGINE = {**dict.fromkeys(NOTHING, True), "sfn_retry": False}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # Someone's own LocalStack in an environment where this package is installed: untouched.
        ({}, NOTHING),
        ({"TESTBED_ENGINE_ID": "e1"}, ENGINE),
        ({"TESTBED_ENGINE_ID": "e1", "TESTBED_ENGINE_MODE": "full"}, ENGINE),
        # Stock mode: only what no client can tell apart (speed, loopback, faults no rule asks for) stays on,
        # and JSONata (answered as by a stock container that could download Java).
        (
            {"TESTBED_ENGINE_ID": "e1", "TESTBED_ENGINE_MODE": "stock"},
            {
                **ENGINE,
                "fidelity": False,
                "lambda_layers": False,
                "function_urls": False,
                "iam": False,
                "lambda_limits": False,
                "sfn_map_runs": False,
                "cloudformation": False,
                "event_source_mappings": False,
            },
        ),
        # The mode alone does not make a process a testbed engine.
        ({"TESTBED_ENGINE_MODE": "full"}, NOTHING),
        # IAM enforcement switched off: everything else as in a full engine.
        ({"TESTBED_ENGINE_ID": "e1", "TESTBED_IAM_ENFORCE": "0"}, {**ENGINE, "iam": False}),
        # Retry intervals scaled: in an engine that asks for it, never outside one.
        ({"TESTBED_ENGINE_ID": "e1", "TESTBED_SFN_RETRY_SCALE": "0.01"}, {**ENGINE, "sfn_retry": True}),
        ({"TESTBED_SFN_RETRY_SCALE": "0.01"}, NOTHING),
    ],
    ids=[
        "not-an-engine",
        "engine",
        "engine-full",
        "engine-stock",
        "mode-without-engine",
        "engine-without-iam",
        "engine-retry-scaled",
        "retry-scale-without-engine",
    ],
)
def test_hooks_patch_only_inside_a_testbed_engine(env: dict[str, str], expected: dict[str, bool]):
    assert patched_by_hooks(env) == expected


def test_every_hook_carries_the_guard():
    import importlib

    guards = {}
    for name, path in registered_hooks().items():
        module, attribute = path.split(":")
        guards[name] = getattr(getattr(importlib.import_module(module), attribute), "testbed_guard", None)
    assert guards == {
        "testbed_batching": "engine",
        "testbed_task_clients": "engine",
        "testbed_network": "engine",
        "testbed_storage": "engine",
        "testbed_faults": "engine",
        "testbed_fidelity": "fidelity",
        "testbed_lambda_layers": "fidelity",
        "testbed_function_urls": "fidelity",
        "testbed_iam": "fidelity",
        "testbed_lambda_limits": "fidelity",
        "testbed_jsonata": "engine",
        "testbed_sfn_describe": "engine",
        "testbed_sfn_retry_scale": "engine",
        "testbed_sfn_map_runs": "fidelity",
        "testbed_cloudformation": "fidelity",
        "testbed_event_source_mappings": "fidelity",
        "testbed_reset": "engine",
    }


def test_engine_mode_is_full_by_default_and_refuses_unknown_values():
    assert engine_mode({}) == "full"
    assert engine_mode({"TESTBED_ENGINE_MODE": ""}) == "full"
    assert engine_mode({"TESTBED_ENGINE_MODE": "stock"}) == "stock"
    with pytest.raises(BadInput, match="'Stock' is not an engine mode; choose one of full, stock"):
        engine_mode({"TESTBED_ENGINE_MODE": "Stock"})


def test_guard_predicates():
    assert not inside_testbed_engine({})
    assert not inside_testbed_engine({"TESTBED_ENGINE_ID": ""})
    assert inside_testbed_engine({"TESTBED_ENGINE_ID": "e1"})
    assert fidelity_patches_on({"TESTBED_ENGINE_ID": "e1"})
    assert not fidelity_patches_on({"TESTBED_ENGINE_ID": "e1", "TESTBED_ENGINE_MODE": "stock"})
    assert not fidelity_patches_on({"TESTBED_ENGINE_MODE": "full"})


@pytest.mark.parametrize("mode", ["full", "stock"])
def test_the_embedded_engine_passes_its_mode_to_localstack(tmp_path: Path, mode: str):
    env = localstack_environment("e1", 4566, tmp_path, host_environ={}, mode=mode)  # type: ignore[arg-type]
    assert env["TESTBED_ENGINE_ID"] == "e1"
    assert env["TESTBED_ENGINE_MODE"] == mode
    assert fidelity_patches_on(env) is (mode == "full")
    # IAM is enforced with the fidelity patches, unless asked not to.
    assert env["TESTBED_IAM_ENFORCE"] == ("1" if mode == "full" else "0")
    assert localstack_environment("e1", 4566, tmp_path, {}, mode, iam_enforce=False)["TESTBED_IAM_ENFORCE"] == "0"
