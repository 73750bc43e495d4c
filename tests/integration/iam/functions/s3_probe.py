"""A function that tries S3 calls with its role's credentials and says how each one ended."""

import boto3
from botocore.exceptions import ClientError


def handler(event, context):
    s3 = boto3.client("s3")
    outcomes = {}
    calls = {
        "get-granted": lambda: s3.get_object(Bucket=event["granted"], Key=event["key"])["Body"].read().decode(),
        "put-granted": lambda: s3.put_object(Bucket=event["granted"], Key="written-by-function", Body=b"x"),
        "get-other-bucket": lambda: s3.get_object(Bucket=event["other"], Key=event["key"]),
        "get-missing-key": lambda: s3.get_object(Bucket=event["granted"], Key="no-such-key"),
    }
    for name, call in calls.items():
        try:
            result = call()
            outcomes[name] = {"ok": result if isinstance(result, str) else True}
        except ClientError as err:
            error = err.response["Error"]
            outcomes[name] = {"code": error.get("Code"), "status": err.response["ResponseMetadata"]["HTTPStatusCode"]}
    return outcomes


def echo(event, context):
    """What the IAM table invokes: nothing but an answer."""
    return event
