"""Workflow 5, CSV ETL with validation, archive, error prefix and notifications.

A CSV file (`.csv` in any case) uploaded under `source/` in the files bucket fires an S3
notification to the start Lambda, which starts the state machine with the bucket and
(URL-decoded) key; any other object there is announced as ignored (reason `not-csv`). The file is
validated (header, column types, UTF-8, empty, row count, truncated rows). An invalid
file is moved to `error/`, an error notification names it and its reasons, and the
execution fails with `CsvFileInvalid`. A valid file's good rows are loaded into the
stage table and the file is moved to `archive/` (a Glue job's work on AWS, a Lambda here); the stage
rows are typed, derived and put into the target table keyed by transaction id (the
second Glue job; DynamoDB stands in for Redshift); a success notification gives the
counts and the rejected rows, whose full list is written under `error/`. Any
unexpected error sends the error notification and fails with `CsvEtlFailed`.
"""

from __future__ import annotations

from serverless_testbed.stack.model import (
    Bucket,
    Function,
    Notification,
    Ref,
    Resource,
    StateMachine,
    Statement,
    Table,
    Topic,
)
from serverless_testbed.workflow import Workflow

BUCKET = "csv-files"
STAGE_TABLE = "csv-stage"
TARGET_TABLE = "csv-sales"
TOPIC = "csv-notifications"
START = "csv-start"
VALIDATE = "csv-validate"
LOAD = "csv-load"
TRANSFORM = "csv-transform"
MOVE = "csv-move"
DISCARD = "csv-discard"
MACHINE = "csv-etl"
SOURCE = "source/"
ARCHIVE = "archive/"
ERROR = "error/"
PREFIXES = {"SOURCE_PREFIX": SOURCE, "ARCHIVE_PREFIX": ARCHIVE, "ERROR_PREFIX": ERROR}


def resources() -> list[Resource]:
    source, archive, errors = (Ref(BUCKET, suffix=f"/{prefix}*") for prefix in (SOURCE, ARCHIVE, ERROR))
    return [
        # No suffix filter: S3's is case-sensitive; the start function takes .csv in any case.
        Bucket(BUCKET, notifications=(Notification(START, prefix=SOURCE),)),
        Table(STAGE_TABLE, hash_key="load_id", range_key="line", attributes={"line": "N"}),
        Table(TARGET_TABLE, hash_key="transaction_id"),
        Topic(TOPIC),
        Function(
            START,
            source="csv_start",
            timeout=10,
            environment={"STATE_MACHINE_ARN": Ref(MACHINE), "NOTIFICATION_TOPIC_ARN": Ref(TOPIC)},
            grants=(
                Statement(("states:StartExecution",), (Ref(MACHINE),)),
                # Objects under source/ that are not CSV files are announced as ignored.
                Statement(("sns:Publish",), (Ref(TOPIC),)),
            ),
        ),
        Function(
            VALIDATE,
            source="csv_etl",
            handler="validate.handler",
            timeout=300,
            memory=512,
            environment={**PREFIXES, "MAX_ROWS": "1000000"},
            grants=(
                Statement(("s3:GetObject",), (source,)),
                # A file gone before it is read is NoSuchKey only to a caller that may list the bucket.
                Statement(("s3:ListBucket",), (Ref(BUCKET),)),
            ),
        ),
        Function(
            LOAD,
            source="csv_etl",
            handler="load.handler",
            timeout=600,
            memory=1024,
            # A bounded chunk per invocation, whatever the machine's speed (the timeout stops it too).
            environment={"STAGE_TABLE": Ref(STAGE_TABLE, "name"), "ROWS_PER_INVOCATION": "100000"},
            grants=(
                # It reads the file under source/ and writes only under error/ (the rejected-rows
                # report and its parts), so it can never re-trigger the pipeline.
                Statement(("s3:GetObject",), (source, errors)),
                Statement(("s3:PutObject",), (errors,)),
                # Without ListBucket a missing object reads as AccessDenied, not NoSuchKey.
                Statement(("s3:ListBucket",), (Ref(BUCKET),)),
                # The parts of a rejected-rows report once they are joined.
                Statement(("s3:DeleteObject",), (errors,)),
                # Query: a resumed load remembers the transaction ids staged before it.
                Statement(("dynamodb:BatchWriteItem", "dynamodb:Query"), (Ref(STAGE_TABLE),)),
            ),
        ),
        Function(
            DISCARD,
            source="csv_etl",
            handler="load.discard",
            timeout=600,
            environment={"STAGE_TABLE": Ref(STAGE_TABLE, "name")},
            grants=(
                Statement(("s3:ListBucket",), (Ref(BUCKET),)),
                Statement(("s3:DeleteObject",), (errors,)),
                Statement(("dynamodb:BatchWriteItem", "dynamodb:Query"), (Ref(STAGE_TABLE),)),
            ),
        ),
        Function(
            TRANSFORM,
            source="csv_etl",
            handler="transform.handler",
            timeout=600,
            memory=1024,
            environment={"STAGE_TABLE": Ref(STAGE_TABLE, "name"), "TARGET_TABLE": Ref(TARGET_TABLE, "name")},
            grants=(
                Statement(("dynamodb:Query",), (Ref(STAGE_TABLE),)),
                Statement(("dynamodb:BatchWriteItem",), (Ref(TARGET_TABLE),)),
            ),
        ),
        Function(
            MOVE,
            source="csv_etl",
            handler="move.handler",
            timeout=300,
            grants=(
                # From source/ to archive/ or error/ (a copy, then a delete of the original);
                # it reads a target to see whether a retried move is already done.
                Statement(("s3:GetObject",), (source, archive, errors)),
                Statement(("s3:PutObject",), (archive, errors)),
                Statement(("s3:DeleteObject",), (source,)),
                Statement(("s3:ListBucket",), (Ref(BUCKET),)),
            ),
        ),
        StateMachine(
            MACHINE,
            asl="csv_etl.asl.json",
            substitutions={
                "ValidateFunctionArn": Ref(VALIDATE),
                "LoadFunctionArn": Ref(LOAD),
                "TransformFunctionArn": Ref(TRANSFORM),
                "MoveFunctionArn": Ref(MOVE),
                "DiscardFunctionArn": Ref(DISCARD),
                "NotificationTopicArn": Ref(TOPIC),
            },
        ),
    ]


WORKFLOW = Workflow(
    name="csv-etl",
    summary="CSV ETL: validate, stage, archive, transform, notify",
    resources=resources,
    generator="fixtures.csv_files:generate_rows",
    runner="infra.runs.csv_etl:run",
    trigger=f"a CSV file uploaded under {SOURCE}",
    renderer="fixtures.csv_files:render_rows",
    formats=("csv", "json"),
)
