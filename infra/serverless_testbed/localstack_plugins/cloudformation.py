"""The engine's CloudFormation, closer to AWS's where a stack's own tests can tell.

LocalStack 4.14.0's CloudFormation (the v2 change set engine) differs from AWS in ways the
integration tests of a SAM or CloudFormation project run into at once:

- Outputs lose their `Description` (a TODO in its change set executor). AWS's
  DescribeStacks answers each output with `OutputKey`, `OutputValue`, `Description` and
  `ExportName` (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Output.html);
  a description is a literal string in the template
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/outputs-section-structure.html).
- An API Gateway URL built in the template, `https://${Api}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello/`,
  comes back as `https://<id>.execute-api.amazonaws.com:<port>/Prod/hello/`: a name no
  resolver knows, over TLS the engine does not serve. The embedded engine renders it as the
  path-style URL the engine serves the same API at,
  `http://127.0.0.1:<port>/_aws/execute-api/<id>/Prod/hello/`, so `requests.get(outputs[...])`
  reaches the API from the host, needing no resolver, no root and no hosts file.
- Required properties are not checked: a state machine without `RoleArn` is created (and every
  execution fails later), where AWS fails that resource with "Properties validation failed for
  resource <id> with message: #: required key [RoleArn] not found" and rolls the stack back.
  Every resource type's provider schema (AWS's resource schemas, shipped with LocalStack)
  lists its required properties; the embedded engine checks them before creating or updating.
- A stack created with CreateStack whose resource failed ends CREATE_FAILED after its
  rollback ran; AWS (OnFailure=ROLLBACK, the default) ends it ROLLBACK_COMPLETE.

All of it is a fidelity patch: off in stock mode, where the engine answers as stock LocalStack.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.imports import after_import
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

LOG = logging.getLogger(__name__)

PREPROC_MODULE = "localstack.services.cloudformation.engine.v2.change_set_model_preproc"
EXECUTOR_MODULE = "localstack.services.cloudformation.engine.v2.change_set_model_executor"
PROVIDER_EXECUTOR_MODULE = "localstack.services.cloudformation.resource_provider"
ENTITIES_MODULE = "localstack.services.cloudformation.v2.entities"

# AWS's regions look like us-east-1, eu-central-2, us-gov-west-1, ap-southeast-4.
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d"
# Where the engine serves a REST API path-style: LocalStack's `/_aws/execute-api/<id>/<stage>/<path>`.
EXECUTE_API_PATH = "/_aws/execute-api"


def execute_api_pattern(url_suffixes: Iterable[str]) -> re.Pattern[str]:
    """An execute-api URL as templates build it: `https://<id>.execute-api[.<region>].<suffix>[:port]/<path>`,
    with <suffix> AWS's `amazonaws.com` or what the engine answers for `${AWS::URLSuffix}`."""
    suffixes = "|".join(re.escape(suffix) for suffix in ("amazonaws.com", *url_suffixes) if suffix)
    return re.compile(
        rf"^https?://(?P<api>[A-Za-z0-9]+)\.execute-api\.(?:{_REGION}\.)?(?:{suffixes})(?::\d+)?(?P<rest>/.*)?$"
    )


def path_style_api_url(value: str, pattern: re.Pattern[str], endpoint: str) -> str | None:
    """The path-style form of an execute-api URL on the engine at `endpoint`; None when `value` is not one."""
    match = pattern.match(value)
    if match is None:
        return None
    return f"{endpoint.rstrip('/')}{EXECUTE_API_PATH}/{match['api']}{match['rest'] or '/'}"


def output_description(template: Mapping[str, Any] | None, output_name: str) -> str | None:
    """The Description of output `output_name` in `template`, when it is the literal string AWS requires."""
    outputs = (template or {}).get("Outputs")
    declared = outputs.get(output_name) if isinstance(outputs, Mapping) else None
    description = declared.get("Description") if isinstance(declared, Mapping) else None
    return description if isinstance(description, str) else None


def missing_required(schema: Mapping[str, Any], properties: Mapping[str, Any] | None) -> list[str]:
    """The top-level properties `schema` requires that `properties` lacks (None counts as absent)."""
    given = properties or {}
    return [name for name in schema.get("required") or () if given.get(name) is None]


def validation_failure(logical_id: str, missing: list[str]) -> str:
    """AWS's message for a resource whose required properties are missing, as its stack events show it."""
    violations = [f"#: required key [{name}] not found" for name in missing]
    detail = (
        violations[0]
        if len(violations) == 1
        else f"#: {len(violations)} schema violations found " + " ".join(violations)
    )
    return f"Properties validation failed for resource {logical_id} with message: {detail}"


@hooks.on_infra_start()
@only_in_testbed_engine(fidelity=True)  # off in stock mode: the engine answers as stock LocalStack
def cloudformation_as_aws() -> None:
    after_import(PREPROC_MODULE, _patch_api_urls)
    after_import(EXECUTOR_MODULE, _patch_output_descriptions)
    after_import(PROVIDER_EXECUTOR_MODULE, _patch_required_properties)
    after_import(ENTITIES_MODULE, _patch_create_failed_after_rollback)


def _patch_api_urls(module: ModuleType) -> None:
    from localstack import config

    pattern = execute_api_pattern([module._AWS_URL_SUFFIX])
    original = module.ChangeSetModelPreproc._perform_static_replacements

    def _perform_static_replacements(value: str) -> str:
        if value in config.CFN_STRING_REPLACEMENT_DENY_LIST:
            return value
        rendered = path_style_api_url(value, pattern, config.external_service_url())
        return rendered if rendered is not None else original(value)

    module.ChangeSetModelPreproc._perform_static_replacements = staticmethod(_perform_static_replacements)
    LOG.debug("execute-api URLs in stacks are rendered path-style")


def _patch_output_descriptions(module: ModuleType) -> None:
    executor = module.ChangeSetModelExecutor
    original = executor.visit_node_output

    def visit_node_output(self: Any, node_output: Any) -> Any:
        before = len(self.outputs)
        delta = original(self, node_output)
        if len(self.outputs) > before:
            change_set = self._change_set
            template = change_set.processed_template or change_set.template
            if (description := output_description(template, node_output.name)) is not None:
                output = self.outputs[-1]
                # AWS's order: OutputKey, OutputValue, Description, ExportName.
                export = output.pop("ExportName", None)
                output["Description"] = description
                if export is not None:
                    output["ExportName"] = export
        return delta

    executor.visit_node_output = visit_node_output


def _patch_required_properties(module: ModuleType) -> None:
    original = module.ResourceProviderExecutor.execute_action

    def execute_action(self: Any, resource_provider: Any, raw_payload: Any) -> Any:
        if raw_payload.get("action") in ("Add", "Modify", "Dynamic"):
            request = raw_payload.get("requestData") or {}
            missing = missing_required(getattr(resource_provider, "SCHEMA", {}), request.get("resourceProperties"))
            if missing:
                return module.ProgressEvent(
                    status=module.OperationStatus.FAILED,
                    resource_model={},
                    message=validation_failure(str(request.get("logicalResourceId")), missing),
                    error_code="InvalidRequest",
                )
        return original(self, resource_provider, raw_payload)

    module.ResourceProviderExecutor.execute_action = execute_action


def _patch_create_failed_after_rollback(module: ModuleType) -> None:
    from localstack.aws.api.cloudformation import StackStatus

    original = module.Stack.set_stack_status

    def set_stack_status(self: Any, status: Any, reason: Any = None) -> None:
        # CreateStack's worker marks a failed stack CREATE_FAILED after the executor rolled it back.
        if status == StackStatus.CREATE_FAILED and self.status == StackStatus.ROLLBACK_COMPLETE:
            return
        original(self, status, reason)

    module.Stack.set_stack_status = set_stack_status
