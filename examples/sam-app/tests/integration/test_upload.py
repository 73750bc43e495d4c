"""S3 -> Lambda with Powertools for AWS Lambda from its public layer."""

import uuid

import boto3
from conftest import eventually


def test_an_upload_is_recorded_by_the_powertools_function(outputs):
    key = f"uploads/{uuid.uuid4()}.csv"
    boto3.client("s3").put_object(Bucket=outputs["UploadBucketName"], Key=key, Body=b"id,qty\n1,2\n")
    table = boto3.resource("dynamodb").Table(outputs["OrdersTableName"])
    stored = eventually(lambda: table.get_item(Key={"id": f"upload#{key}"}).get("Item"), f"upload {key} recorded")
    assert stored["source"] == "s3"
    assert stored["size"] == 11
    assert stored["powertools"].startswith("3.")
