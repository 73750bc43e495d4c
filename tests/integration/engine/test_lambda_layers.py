"""Layers: your own zip, Powertools for AWS Lambda by its public ARN, and a clear refusal for others."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from serverless_testbed.packaging import zip_files

PROBE = Path(__file__).parent / "functions" / "sdk_probe.py"


def create(aws: Any, role_arn: str, name: str, layers: list[str], runtime: str = "python3.12") -> Any:
    lam = aws("lambda")
    return lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role_arn,
        Handler="sdk_probe.layered",
        Code={"ZipFile": zip_files({"sdk_probe.py": PROBE.read_bytes()})},
        Layers=layers,
        Timeout=30,
    )


def imported(aws: Any, name: str, module: str) -> dict[str, Any]:
    lam = aws("lambda")
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 600})
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"module": module}))
    body: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


def test_your_own_layer_zip_is_importable(aws, role_arn, unique, cleanup):
    lam = aws("lambda")
    layer_name = unique("own-layer")
    published = lam.publish_layer_version(
        LayerName=layer_name,
        Content={"ZipFile": zip_files({"python/own_helpers.py": '__version__ = "own-1"\n'})},
        CompatibleRuntimes=["python3.12"],
    )
    cleanup.add(layer_name, lambda: lam.delete_layer_version(LayerName=layer_name, VersionNumber=published["Version"]))
    name = unique("own-layered")
    create(aws, role_arn, name, [published["LayerVersionArn"]])
    cleanup.add(name, lambda: lam.delete_function(FunctionName=name))
    assert imported(aws, name, "own_helpers")["version"] == "own-1"


@pytest.mark.embedded_only(reason="the embedded engine builds public layers from PyPI; AWS serves its own")
def test_the_powertools_layer_by_its_public_arn_is_the_package_it_carries(aws, role_arn, unique, cleanup):
    region = aws("lambda").meta.region_name
    arn = f"arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:6"
    name = unique("powertools")
    create(aws, role_arn, name, [arn])
    cleanup.add(name, lambda: aws("lambda").delete_function(FunctionName=name))
    body = imported(aws, name, "aws_lambda_powertools")
    assert body["version"] == "3.4.1"  # what layer version 6 of the V3 line carries
    assert "/python/lib/python3.12/site-packages/aws_lambda_powertools/" in body["file"]
    pydantic = imported(aws, name, "pydantic")  # the Parser's dependency, as the published layer holds it
    assert str(pydantic["version"]).startswith("2.")


@pytest.mark.embedded_only(reason="the embedded engine's message for a layer it cannot fetch")
def test_an_unknown_public_layer_fails_the_function_saying_what_to_do(aws, role_arn, unique):
    region = aws("lambda").meta.region_name
    arn = f"arn:aws:lambda:{region}:123456789012:layer:SomeoneElsesLayer:3"
    lam = aws("lambda")
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as err:
        create(aws, role_arn, unique("foreign"), [arn])
    message = str(err.value)
    assert arn in message
    assert "build its content into a layer of your own" in message
    assert "pro feature" not in message
