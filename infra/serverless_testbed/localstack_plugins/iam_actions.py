"""What IAM authorizes for one AWS request: the actions and the resources they act on.

AWS checks every request against the caller's policies as one or more (action, resource)
pairs: `s3:GetObject` on `arn:aws:s3:::bucket/key`, `dynamodb:BatchWriteItem` on every
table the batch names, `sqs:SendMessage` for a SendMessageBatch. This module derives those
pairs from a parsed request (service, operation, parameters) for the services the stack
and its functions use; any other operation is `<prefix>:<Operation>` on `*`, which only a
policy granting that action everywhere allows, so an unmapped call is denied, not waved
through. Only the standard library: unit tests read it without LocalStack.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Where:
    """The request's partition, region and account (the caller's)."""

    region: str
    account: str
    partition: str = "aws"

    def arn(self, service: str, resource: str) -> str:
        """An ARN of `service` in this region and account."""
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


@dataclass(frozen=True)
class Authorization:
    """One (action, resource) pair a request needs to be allowed."""

    action: str
    resource: str


# Operations that need no permission at all.
_ALWAYS_ALLOWED = {("sts", "GetCallerIdentity")}
# Operations authorized under another action name, per IAM prefix.
_RENAMED = {
    "lambda": {
        "Invoke": "InvokeFunction",
        "InvokeAsync": "InvokeFunction",
        "InvokeWithResponseStream": "InvokeFunction",
    },
    "s3": {
        "ListObjects": "ListBucket",
        "ListObjectsV2": "ListBucket",
        "HeadBucket": "ListBucket",
        "ListObjectVersions": "ListBucketVersions",
        "HeadObject": "GetObject",
        "CreateMultipartUpload": "PutObject",
        "UploadPart": "PutObject",
        "CompleteMultipartUpload": "PutObject",
        "PostObject": "PutObject",  # a browser-style upload (presigned POST)
        "DeleteObjects": "DeleteObject",
        "ListMultipartUploads": "ListBucketMultipartUploads",
        "ListParts": "ListMultipartUploadParts",
        "ListBuckets": "ListAllMyBuckets",
        "PutBucketNotificationConfiguration": "PutBucketNotification",
        "GetBucketNotificationConfiguration": "GetBucketNotification",
    },
    "sqs": {
        "SendMessageBatch": "SendMessage",
        "DeleteMessageBatch": "DeleteMessage",
        "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    },
    "sns": {"PublishBatch": "Publish"},
}
# Actions with no resource type (AWS's Service Authorization Reference lists none for them).
# AWS evaluates them against the service's whole namespace, so a statement allows one when its
# Resource is "*" or covers every resource of the service ("arn:aws:s3:::*", the pattern AWS's
# own examples grant s3:ListAllMyBuckets with), and not when it names one resource.
_UNSCOPED = {
    "s3:ListAllMyBuckets",
    "sqs:ListQueues",
    "sns:ListTopics",
    "kinesis:ListStreams",
    "dynamodb:ListTables",
    "lambda:ListFunctions",
    "states:ListStateMachines",
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "states:SendTaskHeartbeat",
    "logs:DescribeLogGroups",
    "events:ListRules",
}
# DynamoDB transaction items and the actions they are authorized as.
_TRANSACT_ITEMS = {
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "Get": "dynamodb:GetItem",
}


def authorizations(prefix: str, operation: str, params: Params, where: Where) -> list[Authorization]:
    """Every (action, resource) pair IAM checks for `operation` of the service whose IAM
    prefix (signing name) is `prefix`; empty when the operation needs no permission."""
    if (prefix, operation) in _ALWAYS_ALLOWED:
        return []
    action = f"{prefix}:{_RENAMED.get(prefix, {}).get(operation, operation)}"
    if action in _UNSCOPED:
        return [Authorization(action, namespace(prefix, where))]
    derive = _DERIVERS.get(prefix)
    pairs = list(derive(action, operation, params, where)) if derive else []
    return pairs or [Authorization(action, "*")]


def namespace(service: str, where: Where) -> str:
    """Every resource of `service` in the caller's region and account, as one ARN pattern: what an
    action without a resource type is evaluated against (S3's ARNs carry neither region nor account)."""
    if service == "s3":
        return f"arn:{where.partition}:s3:::*"
    return where.arn(service, "*")


def _s3(action: str, operation: str, params: Params, where: Where) -> Iterator[Authorization]:
    bucket = params.get("Bucket")
    if not bucket:
        return
    base = f"arn:{where.partition}:s3:::{bucket}"
    if operation in ("GetObject", "HeadObject") and params.get("VersionId"):
        action = "s3:GetObjectVersion"
    if operation == "DeleteObjects":
        for item in (params.get("Delete") or {}).get("Objects") or []:
            yield Authorization(action, f"{base}/{item.get('Key', '')}")
        return
    if operation in ("CopyObject", "UploadPartCopy"):
        source = params.get("CopySource")
        if isinstance(source, Mapping):
            source = f"{source.get('Bucket', '')}/{source.get('Key', '')}"
        if isinstance(source, str) and source:
            path = source.lstrip("/").split("?", 1)[0]
            yield Authorization("s3:GetObject", f"arn:{where.partition}:s3:::{path}")
        action = "s3:PutObject"
    key = params.get("Key")
    yield Authorization(action, f"{base}/{key}" if key is not None else base)


def _dynamodb(action: str, operation: str, params: Params, where: Where) -> Iterator[Authorization]:
    if operation in ("BatchWriteItem", "BatchGetItem"):
        for table in params.get("RequestItems") or {}:
            yield Authorization(action, _table_arn(table, where))
        return
    if operation in ("TransactWriteItems", "TransactGetItems"):
        for item in params.get("TransactItems") or []:
            for kind, body in item.items():
                if kind in _TRANSACT_ITEMS and isinstance(body, Mapping):
                    yield Authorization(_TRANSACT_ITEMS[kind], _table_arn(str(body.get("TableName", "")), where))
        return
    if stream := params.get("StreamArn"):
        yield Authorization(action, str(stream))
        return
    if iterator := params.get("ShardIterator"):
        # GetRecords names no stream: AWS authorizes it on the stream the iterator was issued
        # for (dynamodb:GetRecords' resource type is "stream"), which the engine's iterators
        # (moto's) spell out ahead of a "|".
        stream = str(iterator).split("|", 1)[0]
        if stream.startswith("arn:") and "/stream/" in stream:
            yield Authorization(action, stream)
        return
    table = params.get("TableName")
    if not table:
        return
    arn = _table_arn(str(table), where)
    index = params.get("IndexName")
    yield Authorization(action, f"{arn}/index/{index}" if index else arn)


def _table_arn(table: str, where: Where) -> str:
    return table if table.startswith("arn:") else where.arn("dynamodb", f"table/{table}")


def _sqs(action: str, operation: str, params: Params, where: Where) -> Iterator[Authorization]:
    if url := params.get("QueueUrl"):
        account, name = str(url).rstrip("/").rsplit("/", 2)[-2:]
        yield Authorization(action, f"arn:{where.partition}:sqs:{where.region}:{account}:{name}")
    elif queue := params.get("QueueName"):
        owner = params.get("QueueOwnerAWSAccountId") or where.account
        yield Authorization(action, f"arn:{where.partition}:sqs:{where.region}:{owner}:{queue}")


def _sns(action: str, operation: str, params: Params, where: Where) -> Iterator[Authorization]:
    for key in ("TopicArn", "TargetArn", "ResourceArn"):
        if params.get(key):
            yield Authorization(action, str(params[key]))
            return
    if operation == "CreateTopic" and params.get("Name"):
        yield Authorization(action, where.arn("sns", str(params["Name"])))


def _kinesis(action: str, operation: str, params: Params, where: Where) -> Iterator[Authorization]:
    if arn := params.get("StreamARN"):
        yield Authorization(action, str(arn))
    elif name := params.get("StreamName"):
        yield Authorization(action, where.arn("kinesis", f"stream/{name}"))


def _lambda(action: str, operation: str, params: Params, where: Where) -> Iterator[Authorization]:
    name = params.get("FunctionName")
    if not name:
        return
    name = str(name)
    if name.startswith("arn:"):
        parts = name.split(":")
        arn = ":".join(parts[:7])
        qualifier = parts[7] if len(parts) > 7 else None
    else:
        parts = name.split(":")
        if len(parts) >= 3 and parts[1] == "function":  # ACCOUNT:function:NAME[:QUALIFIER]
            arn = f"arn:{where.partition}:lambda:{where.region}:{parts[0]}:function:{parts[2]}"
            qualifier = parts[3] if len(parts) > 3 else None
        else:
            arn = where.arn("lambda", f"function:{parts[0]}")
            qualifier = parts[1] if len(parts) > 1 else None
    qualifier = params.get("Qualifier") or qualifier
    yield Authorization(action, f"{arn}:{qualifier}" if qualifier else arn)


def _states(action: str, operation: str, params: Params, where: Where) -> Iterator[Authorization]:
    for key in ("stateMachineArn", "executionArn", "mapRunArn", "activityArn", "resourceArn"):
        if params.get(key):
            yield Authorization(action, str(params[key]))
            return


def _events(action: str, operation: str, params: Params, where: Where) -> Iterator[Authorization]:
    if operation == "PutEvents":
        buses = {str(entry.get("EventBusName") or "default") for entry in params.get("Entries") or []}
        for bus in sorted(buses):
            yield Authorization(action, bus if bus.startswith("arn:") else where.arn("events", f"event-bus/{bus}"))
        return
    rule = params.get("Rule") or (params.get("Name") if "Rule" in operation else None)
    if rule:
        rule_bus = params.get("EventBusName")
        path = f"rule/{rule_bus}/{rule}" if rule_bus and rule_bus != "default" else f"rule/{rule}"
        yield Authorization(action, where.arn("events", path))


def _logs(action: str, operation: str, params: Params, where: Where) -> Iterator[Authorization]:
    group = params.get("logGroupName")
    if not group:
        return
    stream = params.get("logStreamName")
    resource = f"log-group:{group}:log-stream:{stream}" if stream else f"log-group:{group}"
    yield Authorization(action, where.arn("logs", resource))


def _sts(action: str, operation: str, params: Params, where: Where) -> Iterator[Authorization]:
    if arn := params.get("RoleArn"):
        yield Authorization(action, str(arn))


_DERIVERS = {
    "s3": _s3,
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "sns": _sns,
    "kinesis": _kinesis,
    "lambda": _lambda,
    "states": _states,
    "events": _events,
    "logs": _logs,
    "sts": _sts,
}
