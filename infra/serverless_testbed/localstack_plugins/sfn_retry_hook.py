"""The on_infra_start hook of TESTBED_SFN_RETRY_SCALE (sfn_retry_scale.py)."""

from __future__ import annotations

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine
from serverless_testbed.localstack_plugins.sfn_retry_scale import install


@hooks.on_infra_start()
@only_in_testbed_engine()
def scale_step_functions_retries() -> None:
    install()
