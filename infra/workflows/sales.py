"""Workflow 2, event-driven sales ingest.

A sales file (JSON or CSV) lands under `incoming/` in the landing bucket; S3 sends the
event to EventBridge, whose rule starts the state machine. The file is parsed once
(one entry per record, malformed lines and duplicate order ids marked), the entries
are read back by a Distributed Map in batches, validated by a Lambda, and each batch
is stored: valid orders into the table by a store Lambda (conditional TransactWriteItems calls, 100 items each:
an order id stored from another file is rejected as duplicate-order, the same file
again overwrites its own items; the task retried), invalid ones with their reasons into
the dead-letter queue (SendMessageBatch tasks). A batch whose validation or store fails
after its retries goes to a salvage Lambda, which dead-letters each of its records not
in the table with the error as the reason. One store task per batch rather than one
SDK task per 25 items: state transitions are what a Standard workflow costs, on AWS
and in the engine alike. The output
counts every record; one not accounted for fails the execution.
"""

from __future__ import annotations

from serverless_testbed.stack.model import Bucket, Function, Queue, Ref, Resource, Rule, StateMachine, Statement, Table
from serverless_testbed.workflow import Workflow

BUCKET = "sales-landing"
TABLE = "sales-orders"
QUEUE = "sales-dead-letters"
PARSE = "sales-parse"
VALIDATE = "sales-validate"
STORE = "sales-store"
SALVAGE = "sales-salvage"
SUMMARISE = "sales-summarise"
MACHINE = "sales-ingest"
RULE = "sales-file-created"
INCOMING = "incoming/"
PARSED = "parsed/"


def resources() -> list[Resource]:
    return [
        Bucket(BUCKET, eventbridge=True),
        Table(TABLE, hash_key="orderId"),
        Queue(QUEUE, visibility_timeout=60),
        Function(
            PARSE,
            source="sales_parse",
            timeout=120,
            memory=1024,
            environment={"PARSED_PREFIX": PARSED, "BATCH_SIZE": "250"},
            grants=(
                # It reads the uploaded file and writes only under parsed/, so it can never
                # re-trigger the pipeline (the rule matches incoming/).
                Statement(("s3:GetObject",), (Ref(BUCKET, suffix=f"/{INCOMING}*"),)),
                Statement(("s3:PutObject",), (Ref(BUCKET, suffix=f"/{PARSED}*"),)),
                # A key that is not found decoded is tried as given: that needs NoSuchKey, which
                # AWS answers only to a caller that may list the bucket (else AccessDenied).
                Statement(("s3:ListBucket",), (Ref(BUCKET),)),
            ),
        ),
        Function(SUMMARISE, source="sales_parse", handler="handler.summarise", timeout=10),
        Function(
            VALIDATE,
            source="sales_validate",
            timeout=60,
            memory=512,
            environment={"TABLE_NAME": Ref(TABLE, "name")},
        ),
        Function(
            STORE,
            source="sales_store",
            timeout=60,
            memory=512,
            # TransactWriteItems is authorised per item: PutItem for each Put.
            grants=(Statement(("dynamodb:PutItem",), (Ref(TABLE),)),),
        ),
        Function(
            SALVAGE,
            source="sales_store",
            handler="handler.salvage",
            timeout=60,
            memory=512,
            environment={"TABLE_NAME": Ref(TABLE, "name")},
            grants=(Statement(("dynamodb:BatchGetItem",), (Ref(TABLE),)),),
        ),
        StateMachine(
            MACHINE,
            asl="sales_ingest.asl.json",
            substitutions={
                "LandingBucket": Ref(BUCKET, "name"),
                "DeadLetterQueueUrl": Ref(QUEUE, "url"),
                "ParseFunctionArn": Ref(PARSE),
                "ValidateFunctionArn": Ref(VALIDATE),
                "SummariseFunctionArn": Ref(SUMMARISE),
                "StoreFunctionArn": Ref(STORE),
                "SalvageFunctionArn": Ref(SALVAGE),
            },
        ),
        Rule(
            RULE,
            pattern={
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": [Ref(BUCKET, "name")]}, "object": {"key": [{"prefix": INCOMING}]}},
            },
            target=MACHINE,
        ),
    ]


WORKFLOW = Workflow(
    name="sales",
    summary="event-driven sales ingest: S3 -> EventBridge -> parse, validate, store or dead-letter",
    resources=resources,
    generator="fixtures.sales:generate_sales",
    runner="infra.runs.sales:run",
    trigger=f"a sales file (JSON or CSV) uploaded under {INCOMING}",
    renderer="fixtures.sales:render_sales",
    formats=("json", "csv"),
)
