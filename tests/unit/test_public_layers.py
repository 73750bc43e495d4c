"""Which public layer ARNs the engine builds locally, and from what."""

from __future__ import annotations

import pytest
from serverless_testbed.localstack_plugins.lambda_layers import PYTHONS, public_layer, unknown_layer_message

pytestmark = pytest.mark.unit
REGION = "eu-west-1"


def arn(name: str, version: int, account: str = "017000801446") -> str:
    return f"arn:aws:lambda:{REGION}:{account}:layer:{name}:{version}"


def test_a_known_v3_layer_version_is_the_release_it_carries_for_its_python():
    layer = public_layer(arn("AWSLambdaPowertoolsPythonV3-python312-x86_64", 6))
    assert layer is not None
    assert layer.requirement == "aws-lambda-powertools[tracer,validation,parser]==3.4.1"
    assert layer.pythons == ("3.12",)


def test_an_unknown_layer_version_is_the_newest_of_its_major_line_for_every_python():
    v1 = public_layer(arn("AWSLambdaPowertoolsPython", 9))
    v2 = public_layer(arn("AWSLambdaPowertoolsPythonV2-Arm64", 79))
    assert v1 is not None
    assert v2 is not None
    assert v1.requirement == "aws-lambda-powertools[pydantic]>=1,<2"
    assert v2.requirement == "aws-lambda-powertools[tracer,validation,parser]>=2,<3"
    assert "not in the known table" in v2.reason
    assert v1.pythons == v2.pythons == PYTHONS


@pytest.mark.parametrize(
    "layer_arn",
    [
        arn("AWSLambdaPowertoolsPythonV2", 3, account="123456789012"),  # the name, another account
        arn("SomethingElse", 1),  # the account, another layer
        "not an arn",
    ],
)
def test_other_layers_are_not_built(layer_arn: str):
    assert public_layer(layer_arn) is None


def test_the_refusal_says_what_to_do():
    message = unknown_layer_message(arn("Klayers-p312-requests", 4, account="770693421928"))
    assert "layer of your own" in message
    assert "python/ folder" in message
