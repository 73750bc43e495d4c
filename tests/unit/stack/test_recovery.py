"""Deploys recover from anything half-done: the executor and the reader against AWS's
recorded answers.

Every client is a real botocore client whose Stubber answers with what AWS answers in
that situation (code, HTTP status, message; for SQS the code botocore reads from AWS's
x-amzn-query-error header, checked below by parsing the wire answer). No call leaves
the process; the calls the executor made are checked in order.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.parsers import create_parser
from serverless_testbed.errors import DeployError
from serverless_testbed.registry import stack_for
from serverless_testbed.stack import executor
from serverless_testbed.stack.answers import answer_failures, operation_name
from serverless_testbed.stack.calls import Call
from serverless_testbed.stack.model import (
    Bucket,
    Context,
    EventSourceMapping,
    Function,
    Layer,
    Queue,
    Resource,
    RestApi,
    Role,
    Rule,
    StateMachine,
    Subscription,
)
from serverless_testbed.stack.planner import Change
from serverless_testbed.stack.remote import BotoRemote

from tests.unit.stack.stubbed_account import StubbedAccount

ACCOUNT = "123456789012"
CTX = Context(prefix="tb", account=ACCOUNT, region="eu-west-1")
STACK = stack_for()
API_ID = "a1b2c3d4e5"
QUEUE_URL = f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/tb-sales-dead-letters"

# AWS's answers for "no such resource", one per operation a deletion makes:
# (service, HTTP status, code, message, extra Error keys botocore adds).
GONE_ANSWERS: dict[str, tuple[str, int, str, str, dict[str, str]]] = {
    "delete_role_policy": ("iam", 404, "NoSuchEntity", "The role policy with name testbed cannot be found.", {}),
    "delete_role": ("iam", 404, "NoSuchEntity", "The role with name {name} cannot be found.", {}),
    "delete_table": (
        "dynamodb",
        400,
        "ResourceNotFoundException",
        "Requested resource not found: Table: {name} not found",
        {},
    ),
    "describe_table": (
        "dynamodb",
        400,
        "ResourceNotFoundException",
        "Requested resource not found: Table: {name} not found",
        {},
    ),
    "list_object_versions": ("s3", 404, "NoSuchBucket", "The specified bucket does not exist", {}),
    "delete_bucket": ("s3", 404, "NoSuchBucket", "The specified bucket does not exist", {}),
    "delete_queue": (
        "sqs",
        400,
        "AWS.SimpleQueueService.NonExistentQueue",
        "The specified queue does not exist.",
        {"QueryErrorCode": "QueueDoesNotExist", "Type": "Sender"},
    ),
    "delete_topic": ("sns", 404, "NotFound", "Topic does not exist", {}),
    "delete_stream": (
        "kinesis",
        400,
        "ResourceNotFoundException",
        f"Stream {{name}} under account {ACCOUNT} not found.",
        {},
    ),
    "describe_stream": (
        "kinesis",
        400,
        "ResourceNotFoundException",
        f"Stream {{name}} under account {ACCOUNT} not found.",
        {},
    ),
    "delete_function": (
        "lambda",
        404,
        "ResourceNotFoundException",
        f"Function not found: arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{{name}}",
        {},
    ),
    "remove_permission": (
        "lambda",
        404,
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
        {},
    ),
    "delete_state_machine": (
        "stepfunctions",
        400,
        "StateMachineDoesNotExist",
        "State Machine Does Not Exist: '{name}'",
        {},
    ),
    "remove_targets": (
        "events",
        400,
        "ResourceNotFoundException",
        "Rule {name} does not exist on EventBus default.",
        {},
    ),
    "delete_rule": ("events", 400, "ResourceNotFoundException", "Rule {name} does not exist on EventBus default.", {}),
    "delete_event_source_mapping": (
        "lambda",
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
        {},
    ),
    "delete_layer_version": ("lambda", 404, "ResourceNotFoundException", "Layer version {name} does not exist.", {}),
    "unsubscribe": ("sns", 404, "NotFound", "Subscription does not exist", {}),
    "delete_rest_api": (
        "apigateway",
        404,
        "NotFoundException",
        f"Invalid API identifier specified {ACCOUNT}:{API_ID}",
        {},
    ),
}
QUEUE_DELETED_RECENTLY = {
    "service_error_code": "AWS.SimpleQueueService.QueueDeletedRecently",
    "service_message": "You must wait 60 seconds after deleting a queue before you can create another with the same "
    "name.",
    "http_status_code": 400,
    "service_error_meta": {"QueryErrorCode": "QueueDeletedRecently", "Type": "Sender"},
}
STATE_MACHINE_DELETING = {
    "service_error_code": "StateMachineDeleting",
    "service_message": "State Machine is being deleted: 'arn:aws:states:eu-west-1:{account}:stateMachine:{name}'",
    "http_status_code": 400,
}


class Account(StubbedAccount):
    """Stubbed clients of one AWS account; `calls` lists every call made, in order."""

    def __init__(self) -> None:
        super().__init__(CTX.region)
        self.waits: list[str] = []

    def answer(self, service: str, operation: str, response: dict[str, Any] | None = None) -> None:
        self(service)
        self.stubbers[service].add_response(operation, response or {})

    def refuse(self, service: str, operation: str, **error: Any) -> None:
        self(service)
        self.stubbers[service].add_client_error(operation, **error)

    def gone(self, operation: str, name: str) -> None:
        service, status, code, message, extra = GONE_ANSWERS[operation]
        self.refuse(
            service,
            operation,
            service_error_code=code,
            service_message=message.format(name=name),
            http_status_code=status,
            service_error_meta=extra or None,
        )

    def apply(self, change: Change) -> None:
        executor.apply([change], self, notify=self.waits.append)

    def done(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def account() -> Account:
    return Account()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry intervals of milliseconds: the answers are recorded, not waited for."""
    monkeypatch.setattr(executor, "RETRY_FIRST_INTERVAL", 0.001)
    monkeypatch.setattr(executor, "RETRY_MAX_INTERVAL", 0.01)


def the(kind: type[Resource]) -> Any:
    return STACK.of_kind(kind)[0]


def change(action: str, resource: Resource, calls: list[Call]) -> Change:
    return Change(action, resource.kind, resource.physical(CTX), tuple(calls))  # type: ignore[arg-type]


# Every kind the workflows' stack holds (each has one of its resources tested).
KINDS_USED = sorted({type(resource) for resource in STACK.resources}, key=lambda kind: kind.__name__)

# What the reader found before the interruption, per kind (only what the deleters use).
CURRENT: dict[type[Resource], dict[str, Any]] = {
    Role: {"policy": "{}"},
    Queue: {"_url": QUEUE_URL},
    RestApi: {"_id": API_ID},
    EventSourceMapping: {"_uuid": "6f1c3d1e-1b2a-4c3d-8e9f-0a1b2c3d4e5f"},
    Subscription: {"_arn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:tb-order-notifications:0f1e2d3c"},
    Layer: {"_versions": [1, 2]},
}


# --- deleting something already gone is success, for every kind --------------------------------


@pytest.mark.parametrize("kind", KINDS_USED, ids=lambda kind: kind.__name__)
def test_deleting_what_is_already_gone_succeeds_for_every_kind(account: Account, kind: type[Resource]):
    resource = the(kind)
    calls = resource.delete(CTX, CURRENT.get(kind, {}))
    expected = []
    for call in calls:
        if call.operation == "empty_bucket":
            account.gone("list_object_versions", resource.physical(CTX))
            expected.append("ListObjectVersions")
            continue
        name = call.params.get("FunctionName") if call.operation == "remove_permission" else resource.physical(CTX)
        account.gone(call.operation, str(name))
        expected.append(operation_name(call.operation))
        if call.waiter:  # the waiter's first look finds it gone too
            account.gone(
                {"table_not_exists": "describe_table", "stream_not_exists": "describe_stream"}[call.waiter], name
            )
            expected.append({"table_not_exists": "DescribeTable", "stream_not_exists": "DescribeStream"}[call.waiter])
    account.apply(change("delete", resource, calls))
    account.done()
    assert account.calls == expected
    assert account.waits == []


def test_every_kind_has_a_deleter_that_tolerates_gone():
    for kind in KINDS_USED:
        for call in the(kind).delete(CTX, CURRENT.get(kind, {})):
            assert call.gone_ok, f"{kind.__name__}: {call} would stop on a resource already gone"


def test_gone_is_success_only_for_deletions(account: Account):
    role = the(Role)
    account.gone("delete_role", role.physical(CTX))  # the same answer to a call that is not a deletion
    put = Call("iam", "delete_role", {"RoleName": role.physical(CTX)})  # gone_ok not set
    with pytest.raises(DeployError, match="NoSuchEntity"):
        account.apply(change("update", role, [put]))


def test_a_deletion_refused_for_another_reason_still_fails(account: Account):
    function = the(Function)
    account.refuse(
        "lambda",
        "delete_function",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: lambda:DeleteFunction",
        http_status_code=403,
    )
    calls = function.delete(CTX, {})
    with pytest.raises(DeployError, match="AccessDeniedException"):
        account.apply(change("delete", function, calls))


# --- an interrupted API creation: the API made, its permission not yet --------------------------


def half_made_api(account: Account) -> tuple[RestApi, dict[str, Any]]:
    """The reader's look at an API whose creation stopped before lambda.add_permission."""
    api: RestApi = the(RestApi)
    uri = api.desired(STACK, CTX)["integration"]
    account.answer("apigateway", "get_rest_apis", {"items": [{"id": API_ID, "name": api.physical(CTX)}]})
    account.answer(
        "apigateway",
        "get_resources",
        {
            "items": [
                {"id": "root1", "path": "/"},
                {"id": "res1", "path": f"/{api.path}", "resourceMethods": {api.method: {}}},
            ]
        },
    )
    account.answer("apigateway", "get_integration", {"type": "AWS_PROXY", "uri": uri})
    account.answer("apigateway", "get_stages", {"item": []})
    current = BotoRemote(account).describe(api, STACK, CTX)
    assert current == {"_id": API_ID, "integration": uri, "stage": None}
    account.calls.clear()
    return api, current


def test_an_interrupted_api_creation_is_destroyed(account: Account):
    api, current = half_made_api(account)
    account.gone("remove_permission", CTX.name(api.function))
    account.answer("apigateway", "delete_rest_api")
    account.apply(change("delete", api, api.delete(CTX, current)))
    account.done()
    assert account.calls == ["RemovePermission", "DeleteRestApi"]


def test_an_interrupted_api_creation_is_deployed_again(account: Account):
    api, current = half_made_api(account)
    desired = api.desired(STACK, CTX)
    account.gone("remove_permission", CTX.name(api.function))
    account.answer("apigateway", "delete_rest_api")
    account.answer("apigateway", "create_rest_api", {"id": "newapi0001", "name": api.physical(CTX)})
    account.answer("apigateway", "get_resources", {"items": [{"id": "root2", "path": "/"}]})
    account.answer("apigateway", "create_resource", {"id": "res2", "path": f"/{api.path}"})
    account.answer("apigateway", "put_method", {"httpMethod": api.method})
    account.answer("apigateway", "put_integration", {"type": "AWS_PROXY"})
    account.answer("lambda", "add_permission", {"Statement": "{}"})
    account.answer("apigateway", "create_deployment", {"id": "dep1"})
    account.apply(change("update", api, api.update(STACK, CTX, desired, current)))
    account.done()
    assert account.calls == [
        "RemovePermission",
        "DeleteRestApi",
        "CreateRestApi",
        "GetResources",
        "CreateResource",
        "PutMethod",
        "PutIntegration",
        "AddPermission",
        "CreateDeployment",
    ]


# --- re-creating right after destroy ------------------------------------------------------------


def test_sqs_query_compatible_error_parses_to_the_code_recorded_here():
    # AWS's wire answer (JSON protocol, x-amzn-query-error header) through botocore's own parser.
    sqs = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="eu-west-1").client("sqs")
    model = sqs.meta.service_model.operation_model("CreateQueue")
    body = {"__type": "com.amazonaws.sqs#QueueDeletedRecently", "message": QUEUE_DELETED_RECENTLY["service_message"]}
    parsed = create_parser("json").parse(
        {
            "status_code": 400,
            "headers": {"x-amzn-query-error": "AWS.SimpleQueueService.QueueDeletedRecently;Sender"},
            "body": json.dumps(body).encode(),
        },
        model.output_shape,
    )
    assert parsed["Error"]["Code"] == QUEUE_DELETED_RECENTLY["service_error_code"]
    assert parsed["Error"]["QueryErrorCode"] == "QueueDeletedRecently"


def test_a_queue_recreated_within_60_s_of_its_deletion_waits_and_says_why(account: Account):
    queue = the(Queue)
    calls = queue.create(STACK, CTX, queue.desired(STACK, CTX))
    account.refuse("sqs", "create_queue", **QUEUE_DELETED_RECENTLY)
    account.refuse("sqs", "create_queue", **QUEUE_DELETED_RECENTLY)
    account.answer("sqs", "create_queue", {"QueueUrl": QUEUE_URL})
    account.apply(change("create", queue, calls))
    account.done()
    assert account.calls == ["CreateQueue"] * 3
    assert len(account.waits) == 1  # said once, not at every retry
    wait = account.waits[0]
    assert (
        f"create queue {queue.physical(CTX)}: sqs.create_queue answered AWS.SimpleQueueService.QueueDeletedRecently"
        in wait
    )
    assert "60 s" in wait
    assert "retrying for up to" in wait


def test_the_wait_is_bounded_and_its_failure_says_what_was_seen(account: Account, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(executor, "RETRY_FOR_SECONDS", 0.05)
    queue = the(Queue)
    calls = queue.create(STACK, CTX, queue.desired(STACK, CTX))
    for _ in range(200):  # more than the bound lets it try
        account.refuse("sqs", "create_queue", **QUEUE_DELETED_RECENTLY)
    with pytest.raises(DeployError) as raised:
        account.apply(change("create", queue, calls))
    message = str(raised.value)
    assert f"create queue {queue.physical(CTX)}: sqs.create_queue failed" in message
    assert "still AWS.SimpleQueueService.QueueDeletedRecently after" in message
    assert "SQS keeps a deleted queue's name for 60 s" in message


def test_a_state_machine_recreated_while_the_old_one_is_deleting_waits(account: Account):
    machine = the(StateMachine)
    calls = machine.create(STACK, CTX, machine.desired(STACK, CTX))
    deleting = dict(STATE_MACHINE_DELETING)
    deleting["service_message"] = deleting["service_message"].format(account=ACCOUNT, name=machine.physical(CTX))
    account.refuse("stepfunctions", "create_state_machine", **deleting)
    account.answer(
        "stepfunctions",
        "create_state_machine",
        {"stateMachineArn": machine.arn(CTX), "creationDate": "2024-01-01T00:00:00Z"},
    )
    account.apply(change("create", machine, calls))
    account.done()
    assert account.calls == ["CreateStateMachine", "CreateStateMachine"]
    assert "still being deleted" in account.waits[0]


def test_a_state_machine_still_deleting_counts_as_absent(account: Account):
    machine = the(StateMachine)
    account.answer(
        "stepfunctions",
        "describe_state_machine",
        {
            "stateMachineArn": machine.arn(CTX),
            "name": machine.physical(CTX),
            "status": "DELETING",
            "definition": "{}",
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/x",
            "type": "STANDARD",
            "creationDate": "2024-01-01T00:00:00Z",
        },
    )
    assert BotoRemote(account).describe(machine, STACK, CTX) is None  # deploy creates it, destroy leaves it
    account.done()


def test_a_bucket_name_still_being_released_by_s3_is_retried(account: Account):
    bucket = the(Bucket)
    calls = bucket.create(STACK, CTX, bucket.desired(STACK, CTX))[:1]  # create_bucket and its waiter
    account.refuse(
        "s3",
        "create_bucket",
        service_error_code="OperationAborted",
        service_message="A conflicting conditional operation is currently in progress against this resource. "
        "Please try again.",
        http_status_code=409,
    )
    account.answer("s3", "create_bucket", {"Location": f"http://{bucket.physical(CTX)}.s3.amazonaws.com/"})
    account.answer("s3", "head_bucket", {"ResponseMetadata": {"HTTPStatusCode": 200}})  # the waiter reads the status
    account.apply(change("create", bucket, calls))
    account.done()
    assert account.calls == ["CreateBucket", "CreateBucket", "HeadBucket"]
    assert "recent deletion" in account.waits[0]


# --- refusals inside a 200 answer ----------------------------------------------------------------


def rule_calls() -> tuple[Rule, list[Call]]:
    rule: Rule = the(Rule)
    return rule, rule.create(STACK, CTX, rule.desired(STACK, CTX))


def test_put_targets_refusing_the_target_in_its_answer_fails_the_deploy(account: Account):
    rule, calls = rule_calls()
    account.answer("events", "put_rule", {"RuleArn": f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/{rule.physical(CTX)}"})
    account.answer(
        "events",
        "put_targets",
        {
            "FailedEntryCount": 1,
            "FailedEntries": [
                {"TargetId": "target", "ErrorCode": "InternalException", "ErrorMessage": "An internal error occurred."}
            ],
        },
    )
    with pytest.raises(DeployError) as raised:
        account.apply(change("create", rule, calls))
    message = str(raised.value)
    assert f"create rule {rule.physical(CTX)}: events.put_targets failed" in message
    assert "1 entry not done: target: InternalException: An internal error occurred." in message


def test_put_targets_refused_for_a_concurrent_change_is_retried(account: Account):
    rule, calls = rule_calls()
    account.answer("events", "put_rule", {"RuleArn": f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/{rule.physical(CTX)}"})
    busy = {
        "TargetId": "target",
        "ErrorCode": "ConcurrentModificationException",
        "ErrorMessage": "Rule is being updated.",
    }
    account.answer("events", "put_targets", {"FailedEntryCount": 1, "FailedEntries": [busy]})
    account.answer("events", "put_targets", {"FailedEntryCount": 0, "FailedEntries": []})
    account.apply(change("create", rule, calls))
    account.done()
    assert account.calls == ["PutRule", "PutTargets", "PutTargets"]
    assert "another change to the same resource is in progress" in account.waits[0]


def test_objects_s3_did_not_delete_fail_the_bucket_deletion(account: Account):
    bucket = the(Bucket)
    name = bucket.physical(CTX)
    account.answer(
        "s3",
        "list_object_versions",
        {"Versions": [{"Key": "raw/a.csv", "VersionId": "v1"}, {"Key": "raw/b.csv", "VersionId": "v2"}]},
    )
    account.answer(
        "s3",
        "delete_objects",
        {"Errors": [{"Key": "raw/b.csv", "VersionId": "v2", "Code": "AccessDenied", "Message": "Access Denied"}]},
    )
    with pytest.raises(DeployError) as raised:
        account.apply(change("delete", bucket, bucket.delete(CTX, {})))
    assert f"delete bucket {name}: s3.empty_bucket failed" in str(raised.value)
    assert "raw/b.csv: AccessDenied: Access Denied" in str(raised.value)
    assert "DeleteBucket" not in account.calls


@pytest.mark.parametrize(
    ("service", "operation", "answer", "expected"),
    [
        (
            "sqs",
            "send_message_batch",
            {
                "Successful": [],
                "Failed": [{"Id": "0", "SenderFault": True, "Code": "InvalidParameterValue", "Message": "bad"}],
            },
            ["0: InvalidParameterValue: bad"],
        ),
        (
            "sqs",
            "delete_message_batch",
            {
                "Successful": [],
                "Failed": [{"Id": "1", "SenderFault": True, "Code": "ReceiptHandleIsInvalid", "Message": "x"}],
            },
            ["1: ReceiptHandleIsInvalid: x"],
        ),
        (
            "kinesis",
            "put_records",
            {
                "FailedRecordCount": 1,
                "Records": [
                    {"SequenceNumber": "1", "ShardId": "shardId-0"},
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"},
                ],
            },
            ["entry 1: ProvisionedThroughputExceededException: Rate exceeded"],
        ),
        (
            "events",
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [{"EventId": "e1"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "m"}],
            },
            ["entry 1: InternalFailure: m"],
        ),
        ("events", "put_targets", {"FailedEntryCount": 0, "FailedEntries": []}, []),
        ("s3", "delete_objects", {"Deleted": [{"Key": "a"}]}, []),
    ],
)
def test_answers_that_report_refused_entries_are_read(
    service: str, operation: str, answer: dict[str, Any], expected: list[str]
):
    assert [str(failure) for failure in answer_failures(service, operation, answer)] == expected
