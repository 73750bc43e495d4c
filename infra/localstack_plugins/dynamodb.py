"""DynamoDB and DynamoDB Streams providers backed by moto-ext, for the embedded engine.

LocalStack's own DynamoDB provider proxies to DynamoDB Local, a Java jar it downloads
at first use; the embedded engine cannot download it. These providers hand every
operation to moto-ext through LocalStack's `MotoFallbackDispatcher`. They are chosen
with `PROVIDER_OVERRIDE_DYNAMODB=moto` and `PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto`.
"""

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.aws.api.dynamodbstreams import DynamodbstreamsApi
from localstack.services.plugins import Service, aws_provider


class MotoDynamoDBProvider(DynamodbApi):
    """Every DynamoDB operation is served by moto (the base class raises NotImplementedError)."""


class MotoDynamoDBStreamsProvider(DynamodbstreamsApi):
    """Streams read the change records moto keeps for tables with a stream specification."""


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto() -> Service:
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher)


@aws_provider(api="dynamodbstreams", name="moto")
def dynamodbstreams_moto() -> Service:
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(MotoDynamoDBStreamsProvider(), dispatch_table_factory=MotoFallbackDispatcher)
