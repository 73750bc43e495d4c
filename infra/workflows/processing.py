"""Workflow 3, Lambda orchestration behind an HTTP entry.

`POST /process-data` on an API Gateway REST API (Lambda proxy integration, stage `dev`)
invokes the processing Lambda, which answers 200 with the processed data or 400 naming
what is wrong with the request. The FastAPI app of the seed (`src/api_app/app.py`)
forwards to that endpoint. The `data-processing` state machine runs the same processing
Lambda, then the logging Lambda, which writes a JSON log entry to the log bucket under
`logs/<execution name>/` and to CloudWatch Logs. Transient Lambda errors are retried;
a permanent failure is logged too and fails the execution with `ProcessingFailed`.
"""

from __future__ import annotations

from serverless_testbed.stack.model import Bucket, Function, Ref, Resource, RestApi, StateMachine, Statement
from serverless_testbed.workflow import Workflow

LOG_BUCKET = "processing-logs"
PROCESS = "processing-process"
LOG = "processing-log"
MACHINE = "data-processing"
API = "process-data-api"
PATH = "process-data"
STAGE = "dev"
LOGS = "logs/"
FAILED_ERROR = "ProcessingFailed"


def resources() -> list[Resource]:
    return [
        Bucket(LOG_BUCKET),
        Function(PROCESS, source="processing_process", timeout=10),
        Function(
            LOG,
            source="processing_log",
            timeout=10,
            environment={"LOG_BUCKET": Ref(LOG_BUCKET, "name"), "LOG_PREFIX": LOGS},
            grants=(Statement(("s3:PutObject",), (Ref(LOG_BUCKET, suffix=f"/{LOGS}*"),)),),
        ),
        StateMachine(
            MACHINE,
            asl="data_processing.asl.json",
            substitutions={"ProcessFunctionArn": Ref(PROCESS), "LogFunctionArn": Ref(LOG)},
        ),
        RestApi(API, path=PATH, method="POST", function=PROCESS, stage=STAGE),
    ]


WORKFLOW = Workflow(
    name="processing",
    summary="Lambda orchestration: POST /process-data, processing and logging Lambdas",
    resources=resources,
    generator="fixtures.requests:generate_requests",
    runner="infra.runs.processing:run",
    trigger=f"HTTP POST /{PATH} through API Gateway and the FastAPI front",
)
