"""The services a pipeline wires together reach each other on the engine."""

from __future__ import annotations

import json
from pathlib import Path

from serverless_testbed.waiting import wait_for

PROBES = Path(__file__).parent / "functions" / "probes.py"


def test_s3_object_created_notification_invokes_a_lambda(aws, make_function, make_bucket, make_queue, receive_messages):
    sink = make_queue()
    name = make_function(PROBES, "probes.record", env={"SINK_QUEUE_URL": sink})
    arn = aws("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    bucket = make_bucket()
    aws("lambda").add_permission(
        FunctionName=name,
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
    )
    aws("s3").put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}},
                }
            ]
        },
    )
    aws("s3").put_object(Bucket=bucket, Key="ignored/a.json", Body=b"{}")
    aws("s3").put_object(Bucket=bucket, Key="incoming/sales.json", Body=b"[]")
    (event,) = receive_messages(sink, 1)
    record = event["Records"][0]
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["object"]["key"] == "incoming/sales.json"


def test_sqs_event_source_mapping_invokes_a_lambda(aws, make_function, make_queue, receive_messages, cleanup):
    source, sink = make_queue(), make_queue()
    name = make_function(PROBES, "probes.record", env={"SINK_QUEUE_URL": sink})
    source_arn = aws("sqs").get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = aws("lambda").create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn, BatchSize=5)
    cleanup.add("mapping", lambda: aws("lambda").delete_event_source_mapping(UUID=mapping["UUID"]))
    for number in range(3):
        aws("sqs").send_message(QueueUrl=source, MessageBody=json.dumps({"n": number}))
    bodies: set[int] = set()

    def all_three() -> bool:
        for event in receive_messages(sink, 1, timeout=10):
            bodies.update(json.loads(record["body"])["n"] for record in event["Records"])
        return len(bodies) >= 3

    wait_for(all_three, timeout=40, what="all three SQS messages delivered to the function")
    assert bodies == {0, 1, 2}


def test_state_machine_invokes_lambda_then_puts_the_item(
    aws, make_function, make_orders_table, make_state_machine, wait_execution
):
    table = make_orders_table()
    name = make_function(PROBES, "probes.check_transaction")
    function_arn = aws("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    definition = {
        "StartAt": "CheckTransaction",
        "States": {
            "CheckTransaction": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
                "ResultSelector": {"approved.$": "$.Payload.approved"},
                "ResultPath": "$.check",
                "Next": "PutOrder",
            },
            "PutOrder": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {
                    "TableName": table,
                    "Item": {
                        "customerID": {"S.$": "$.customerID"},
                        "orderID": {"S.$": "$.orderID"},
                        "approved": {"BOOL.$": "$.check.approved"},
                    },
                },
                "End": True,
            },
        },
    }
    arn = make_state_machine(definition)
    execution = aws("stepfunctions").start_execution(
        stateMachineArn=arn, input=json.dumps({"customerID": "c-7", "orderID": "o-7", "amount": 12})
    )
    result = wait_execution(execution["executionArn"])
    assert result["status"] == "SUCCEEDED", result
    item = aws("dynamodb").get_item(TableName=table, Key={"customerID": {"S": "c-7"}, "orderID": {"S": "o-7"}})["Item"]
    assert item["approved"] == {"BOOL": True}


def test_s3_upload_reaches_a_state_machine_through_eventbridge(
    aws, make_bucket, make_state_machine, role_arn, unique, cleanup
):
    bucket = make_bucket()
    aws("s3").put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    arn = make_state_machine({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    events = aws("events")
    rule = unique("rule")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": "incoming/"}]}},
            }
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "sm", "Arn": arn, "RoleArn": role_arn}])
    cleanup.add("rule", lambda: (events.remove_targets(Rule=rule, Ids=["sm"]), events.delete_rule(Name=rule)))
    aws("s3").put_object(Bucket=bucket, Key="incoming/sales.csv", Body=b"a,b\n1,2\n")
    sfn = aws("stepfunctions")
    executions = wait_for(
        lambda: sfn.list_executions(stateMachineArn=arn)["executions"],
        timeout=30,
        what="an execution started by the S3 event",
    )
    detail = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
    assert detail["detail-type"] == "Object Created"
    assert detail["detail"]["object"]["key"] == "incoming/sales.csv"


def test_dynamodb_stream_mapping_invokes_a_lambda(
    aws, make_function, make_orders_table, make_queue, receive_messages, cleanup
):
    table = make_orders_table(stream=True)
    sink = make_queue()
    name = make_function(PROBES, "probes.record", env={"SINK_QUEUE_URL": sink})
    stream_arn = aws("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    mapping = aws("lambda").create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=10
    )
    cleanup.add("mapping", lambda: aws("lambda").delete_event_source_mapping(UUID=mapping["UUID"]))
    wait_for(
        lambda: aws("lambda").get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled",
        timeout=30,
        what="the stream mapping to be Enabled",
    )
    aws("dynamodb").put_item(
        TableName=table, Item={"customerID": {"S": "c-1"}, "orderID": {"S": "o-1"}, "total": {"N": "5"}}
    )
    (event,) = receive_messages(sink, 1, timeout=30)
    record = event["Records"][0]
    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["dynamodb"]["NewImage"]["orderID"] == {"S": "o-1"}
