"""DynamoDB and DynamoDB Streams providers backed by moto-ext, for the embedded engine.

LocalStack's own DynamoDB provider proxies to DynamoDB Local, a Java jar it downloads
at first use; the embedded engine cannot download it. These providers hand every
operation to moto-ext through a forwarder that checks requests first and shapes answers
after, so that they read as AWS's do (what a stock LocalStack container, with DynamoDB
Local, answers too): dynamodb_checks.py (requests), dynamodb_shapes.py (answers),
dynamodb_streams.py (stream records, patched into moto), dynamodb_transactions.py
(TransactWriteItems without whole-table copies, patched into moto), dynamodb_batch_write.py
(BatchWriteItem in request order, patched into moto), dynamodb_partiql.py (PartiQL,
translated into the operations it means). They are chosen with
`PROVIDER_OVERRIDE_DYNAMODB=moto` and `PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto`, which only
the embedded engine sets; so the fixes hold in its stock mode too, where it stands in for a
stock container's DynamoDB Local.
"""

from __future__ import annotations

import logging
from typing import Any

from localstack.aws.api import RequestContext, ServiceException, handler
from localstack.aws.api.dynamodb import DynamodbApi
from localstack.aws.api.dynamodbstreams import DynamodbstreamsApi
from localstack.services.plugins import Service, aws_provider
from serverless_testbed.localstack_plugins import dynamodb_checks as checks
from serverless_testbed.localstack_plugins import dynamodb_partiql as partiql
from serverless_testbed.localstack_plugins import dynamodb_shapes as shapes

LOG = logging.getLogger(__name__)
# The headers that say who calls (moto takes the account from x-moto-account-id, which
# LocalStack's auth handler sets); the rest is per request.
CALLER_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token", "x-moto-account-id")
TABLE_CLASS_ATTRIBUTE = "testbed_table_class"
# PartiQL batch errors carry codes without the `Exception` suffix (BatchStatementErrorCodeEnum).
BATCH_ERROR_CODES = {"ValidationException": "ValidationError"}


def _moto_table(context: RequestContext, name: str) -> Any:
    """Moto's table of that name in the caller's account and region, or None."""
    from moto.dynamodb.models import dynamodb_backends

    try:
        return dynamodb_backends[context.account_id][context.region].get_table(name)
    except Exception:  # noqa: BLE001 - moto's not-found error is not a ServiceException
        return None


def _schema(table: Any) -> checks.TableSchema:
    types = {d["AttributeName"]: d["AttributeType"] for d in table.attr}
    keys = {k["AttributeName"]: types.get(k["AttributeName"], "S") for k in table.schema}
    indexes = {index.name: getattr(index, "status", "ACTIVE") for index in table.all_indexes()}
    partial = frozenset(
        index.name for index in table.global_indexes if (index.projection or {}).get("ProjectionType", "ALL") != "ALL"
    )
    return checks.TableSchema(keys=keys, indexes=indexes, partial_global_indexes=partial)


def _index_stats(table: Any) -> shapes.IndexStats:
    def stats(name: str) -> tuple[int, int]:
        index = next((i for i in table.all_indexes() if i.name == name), None)
        if index is None:
            return 0, 0
        wanted = [k["AttributeName"] for k in index.schema]
        items = [item for item in table.all_items() if all(a in item.attrs for a in wanted)]
        return len(items), sum(item.size() for item in items)

    return stats


def _check(context: RequestContext, operation: str, request: dict[str, Any]) -> None:
    if operation == "BatchWriteItem":
        tables = {name: _moto_table(context, name) for name in request.get("RequestItems") or {}}
        checks.check_batch_write(request, {name: _schema(t) if t else None for name, t in tables.items()})
    elif operation == "CreateTable":
        checks.check_create_table(request)
    elif operation in ("Query", "Scan") and request.get("IndexName"):
        table = _moto_table(context, request.get("TableName", ""))
        checks.check_index(request, _schema(table) if table else None)


def _shape(context: RequestContext, operation: str, request: dict[str, Any], response: dict[str, Any]) -> None:
    shapes.strip_unrequested(operation, request, response)
    key = shapes.TABLE_DESCRIPTION_KEYS.get(operation)
    description = response.get(key) if key else None
    if not isinstance(description, dict):
        return
    table = _moto_table(context, description.get("TableName", ""))
    if table is not None and request.get("TableClass"):
        setattr(table, TABLE_CLASS_ATTRIBUTE, request["TableClass"])
    table_class = getattr(table, TABLE_CLASS_ATTRIBUTE, None) if table is not None else None
    stats = _index_stats(table) if table is not None else None
    shapes.shape_table(description, operation=operation, table_class=table_class, index_stats=stats)


def forward_to_moto(context: RequestContext, request: dict[str, Any] | None) -> Any:
    """Check the request as AWS does, let moto answer, shape the answer as AWS's."""
    from localstack.services.moto import call_moto

    operation = context.operation.name
    request = dict(request or {})
    _check(context, operation, request)
    try:
        response = call_moto(context)
    except ServiceException as err:
        if err.code == "ResourceNotFound":  # moto's TTL operations
            raise checks.table_not_found(str(request.get("TableName", ""))) from err
        raise
    if isinstance(response, dict):
        _shape(context, operation, request, response)
    return response


def _caller(context: RequestContext) -> partiql.Call:
    """`call(operation, request)`: another DynamoDB operation, as the same caller, through moto."""
    from localstack.aws.forwarder import create_aws_request_context

    def call(operation: str, request: dict[str, Any]) -> dict[str, Any]:
        inner = create_aws_request_context("dynamodb", operation, parameters=request, region=context.region)
        for header in CALLER_HEADERS:
            if header in context.request.headers:
                inner.request.headers[header] = context.request.headers[header]
        inner.account_id, inner.region = context.account_id, context.region
        return dict(forward_to_moto(inner, request))

    return call


def _keys_of(context: RequestContext) -> partiql.KeysOf:
    def keys_of(table_name: str, index_name: str | None) -> tuple[str, str | None]:
        table = _moto_table(context, table_name)
        if table is None:
            raise checks.table_not_found(table_name)
        schema = table.schema
        if index_name:
            index = next((i for i in table.all_indexes() if i.name == index_name), None)
            if index is None:
                raise checks.validation_error(f"The table does not have the specified index: {index_name}")
            schema = index.schema
        hash_key = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
        range_key = next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None)
        return hash_key, range_key

    return keys_of


def _execute(context: RequestContext, statement: dict[str, Any], **page: Any) -> tuple[str, dict[str, Any]]:
    checks.check_parameters(statement.get("Parameters"))
    translation = partiql.translate(statement.get("Statement", ""), statement.get("Parameters"), _keys_of(context))
    try:
        return translation.table, partiql.run(translation, _caller(context), **page)
    except ServiceException as err:
        renamed = translation.renames.get(err.code)
        if renamed:
            from localstack.aws.api import CommonServiceException

            raise CommonServiceException(*renamed) from err
        raise


class MotoDynamoDBProvider(DynamodbApi):
    """Moto serves every operation (through `forward_to_moto`); PartiQL is translated here."""

    @handler("ExecuteStatement", expand=False)
    def execute_statement(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        _, response = _execute(context, request, limit=request.get("Limit"), next_token=request.get("NextToken"))
        return response

    @handler("BatchExecuteStatement", expand=False)
    def batch_execute_statement(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        responses: list[dict[str, Any]] = []
        for statement in request.get("Statements") or []:
            try:
                table, answer = _execute(context, statement)
            except ServiceException as err:
                code = BATCH_ERROR_CODES.get(err.code, err.code.removesuffix("Exception"))
                responses.append({"Error": {"Code": code, "Message": err.message}})
                continue
            entry: dict[str, Any] = {"TableName": table}
            if answer.get("Items"):
                entry["Item"] = answer["Items"][0]
            responses.append(entry)
        return {"Responses": responses}

    @handler("ExecuteTransaction", expand=False)
    def execute_transaction(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        keys_of = _keys_of(context)
        translations = []
        for statement in request.get("TransactStatements") or []:
            checks.check_parameters(statement.get("Parameters"))
            translations.append(partiql.translate(statement.get("Statement", ""), statement.get("Parameters"), keys_of))
        call = _caller(context)
        if translations and all(t.verb == "SELECT" for t in translations):
            return {"Responses": [{"Item": (partiql.run(t, call).get("Items") or [{}])[0]} for t in translations]}
        if any(t.verb == "SELECT" for t in translations):
            raise checks.validation_error("Transaction must contain either all reads or all writes")
        kinds = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}
        items = [{kinds[t.operation]: t.request} for t in translations]
        call("TransactWriteItems", {"TransactItems": items})  # all or nothing, as on AWS
        return {"Responses": []}  # what AWS answers a transaction of writes


class MotoDynamoDBStreamsProvider(DynamodbstreamsApi):
    """Streams read the change records moto keeps for tables with a stream specification."""


def forward_streams_to_moto(context: RequestContext, request: dict[str, Any] | None) -> Any:
    """Let moto answer; DescribeStream pages its shards after ExclusiveStartShardId."""
    from localstack.services.moto import call_moto

    response = call_moto(context)
    if context.operation.name == "DescribeStream" and isinstance(response, dict):
        shapes.shape_describe_stream(request or {}, response)
    return response


def _install_moto_patches() -> None:
    from moto.dynamodb import models as backend_module
    from moto.dynamodb import responses as responses_module
    from moto.dynamodb.models import table as table_module
    from serverless_testbed.localstack_plugins import dynamodb_batch_write, dynamodb_streams, dynamodb_transactions

    dynamodb_streams.install(table_module, backend_module)
    dynamodb_transactions.install(backend_module)
    dynamodb_batch_write.install(responses_module)


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto() -> Service:
    from localstack.aws.forwarder import ForwardingFallbackDispatcher

    _install_moto_patches()
    return Service.for_provider(
        MotoDynamoDBProvider(),
        dispatch_table_factory=lambda provider: ForwardingFallbackDispatcher(provider, forward_to_moto),
    )


@aws_provider(api="dynamodbstreams", name="moto")
def dynamodbstreams_moto() -> Service:
    from localstack.aws.forwarder import ForwardingFallbackDispatcher

    _install_moto_patches()
    return Service.for_provider(
        MotoDynamoDBStreamsProvider(),
        dispatch_table_factory=lambda provider: ForwardingFallbackDispatcher(provider, forward_streams_to_moto),
    )
