"""Records each uploaded object in the table, with Powertools for AWS Lambda (from its layer)."""

import os

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools import __version__ as powertools_version
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source

logger = Logger()
table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


@logger.inject_lambda_context
@event_source(data_class=S3Event)
def handler(event: S3Event, context):
    for record in event.records:
        key = record.s3.get_object.key
        logger.info("upload", extra={"bucket": event.bucket_name, "key": key})
        table.put_item(
            Item={
                "id": f"upload#{key}",
                "source": "s3",
                "powertools": powertools_version,
                "size": record.s3.get_object.size,
            }
        )
