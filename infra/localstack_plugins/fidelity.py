"""Engine-side fidelity fixes: where LocalStack 4.14.0 answers differently from AWS.

DynamoDB optimized integrations (`arn:aws:states:::dynamodb:putItem` and friends) on
AWS return the SDK's HTTP metadata next to the response: `SdkHttpMetadata` (with
`HttpStatusCode`, `HttpHeaders`, `AllHttpHeaders`) and `SdkResponseMetadata` (with
`RequestId`). State machines branch on `$.SdkHttpMetadata.HttpStatusCode`, as the
customer-orders seed does. LocalStack drops the metadata and returns `{}` for a put,
so the embedded engine adds it back, built from the real boto3 response.
"""

from __future__ import annotations

import logging
from typing import Any

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)


def sdk_metadata(response_metadata: dict[str, Any]) -> dict[str, Any]:
    """AWS's SdkHttpMetadata/SdkResponseMetadata from a boto3 ResponseMetadata."""
    headers = {str(k): str(v) for k, v in (response_metadata.get("HTTPHeaders") or {}).items()}
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {key: [value] for key, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": int(response_metadata.get("HTTPStatusCode", 200)),
        },
        "SdkResponseMetadata": {"RequestId": str(response_metadata.get("RequestId", ""))},
    }


@hooks.on_infra_start()
def dynamodb_task_http_metadata() -> None:
    from localstack.services.stepfunctions.asl.component.state.state_execution.state_task.service import (
        state_task_service_dynamodb as module,
    )
    from localstack.services.stepfunctions.asl.utils.boto_client import boto_client_for

    task = module.StateTaskServiceDynamoDB

    def _eval_service_task(
        self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict[str, Any], state_credentials: Any
    ) -> None:
        client = boto_client_for(
            service=self._get_boto_service_name(),
            region=resource_runtime_part.region,
            state_credentials=state_credentials,
        )
        response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
        metadata = response.pop("ResponseMetadata", None) or {}
        response.update(sdk_metadata(metadata))
        env.stack.append(response)

    task._eval_service_task = _eval_service_task
    LOG.debug("dynamodb task responses now carry SdkHttpMetadata")
