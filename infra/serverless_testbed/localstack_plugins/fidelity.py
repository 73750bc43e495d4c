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
from types import ModuleType
from typing import Any

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.imports import after_import
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

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


DYNAMODB_TASK_MODULE = (
    "localstack.services.stepfunctions.asl.component.state.state_execution.state_task.service."
    "state_task_service_dynamodb"
)


@hooks.on_infra_start()
@only_in_testbed_engine(fidelity=True)  # off in stock mode: the engine answers as stock LocalStack
def dynamodb_task_http_metadata() -> None:
    after_import(DYNAMODB_TASK_MODULE, _patch_dynamodb_task)


def _patch_dynamodb_task(module: ModuleType) -> None:
    from localstack.services.stepfunctions.asl.utils import boto_client

    def _eval_service_task(
        self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict[str, Any], state_credentials: Any
    ) -> None:
        # Looked up at call time, so that the cached task clients (task_clients.py) serve it.
        client = boto_client.boto_client_for(
            service=self._get_boto_service_name(),
            region=resource_runtime_part.region,
            state_credentials=state_credentials,
        )
        response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
        metadata = response.pop("ResponseMetadata", None) or {}
        response.update(sdk_metadata(metadata))
        env.stack.append(response)

    module.StateTaskServiceDynamoDB._eval_service_task = _eval_service_task
    LOG.debug("dynamodb task responses now carry SdkHttpMetadata")


LAMBDA_PROVIDER_MODULE = "localstack.services.lambda_.provider"


@hooks.on_infra_start()
@only_in_testbed_engine(fidelity=True)  # off in stock mode: the engine answers as stock LocalStack
def lambda_layer_listing() -> None:
    """ListLayers lists the layers that have a version, each with its latest version.

    LocalStack 4.14.0 answers InternalError ("list index out of range") once any layer has
    had all its versions deleted (as `testbed destroy` does), and takes the latest version
    in insertion order. AWS's ListLayers "lists Lambda layers and shows information about
    the latest version of each" (Lambda API reference, ListLayers): a layer with no version
    left is not listed."""
    after_import(LAMBDA_PROVIDER_MODULE, _patch_list_layers)


def _patch_list_layers(module: ModuleType) -> None:
    from localstack.aws.api.lambda_ import LayersListItem, ListLayersResponse
    from localstack.services.lambda_ import api_utils
    from localstack.utils.collections import PaginatedList

    original = module.LambdaProvider.list_layers

    def list_layers(
        self: Any,
        context: Any,
        compatible_runtime: Any = None,
        marker: Any = None,
        max_items: Any = None,
        compatible_architecture: Any = None,
        **kwargs: Any,
    ) -> Any:
        state = module.lambda_stores[context.account_id][context.region]
        if all(layer.layer_versions for layer in state.layers.values()):  # its own validation and answer
            return original(self, context, compatible_runtime, marker, max_items, compatible_architecture, **kwargs)
        listed = []
        for name, layer in list(state.layers.items()):
            versions = sorted(layer.layer_versions.values(), key=lambda version: version.version)
            if versions:
                latest = api_utils.map_layer_out(versions[-1])
                listed.append(LayersListItem(LayerName=name, LayerArn=layer.arn, LatestMatchingVersion=latest))
        page, token = PaginatedList(listed).get_page(lambda item: item["LayerName"], marker, max_items)
        return ListLayersResponse(NextMarker=token, Layers=page)

    module.LambdaProvider.list_layers = list_layers
