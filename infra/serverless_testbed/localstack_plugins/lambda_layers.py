"""Public Lambda layers of another account, resolved locally: Powertools for AWS Lambda (Python).

A function may name a layer another account publishes (`Layers:
[arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:6]`).
LocalStack 4.14.0 fetches such layers from AWS only in its paid edition: without a layer
fetcher, `LambdaProvider._validate_layers` raises "Fetching shared layers from AWS is a pro
feature." and the function (and its stack) fails. This plugin is that fetcher
(hook `localstack.hooks.lambda_inject_layer_fetcher`):

- Powertools for AWS Lambda (Python), account 017000801446, layers `AWSLambdaPowertoolsPython`
  (v1), `AWSLambdaPowertoolsPythonV2[-Arm64]` and `AWSLambdaPowertoolsPythonV3-<python>-<arch>`:
  the same package from PyPI, `aws-lambda-powertools` at the version that layer version carries
  (`KNOWN_VERSIONS`, from the Powertools release notes); an unknown layer version gets the newest
  release of its major line (v1: 1.x, v2: 2.x, v3: 3.x) and the engine's log says which. The
  package and its extras as the published layer holds them (Tracer, Validation, Parser) are
  installed with uv into python/lib/python3.x/site-packages for each Python runtime, as one zip,
  built once per machine in the testbed's cache under the ARN (`venv.built_once`).
- Any other account's layer fails the function's creation with one message that says what to
  do: build its content into a layer of your own.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localstack.services.lambda_ import hooks as lambda_hooks
from serverless_testbed.engine.venv import built_once, cache_root, run_logged, uv_binary
from serverless_testbed.localstack_plugins.scope import inside_testbed_engine

LOG = logging.getLogger(__name__)

POWERTOOLS_ACCOUNT = "017000801446"
POWERTOOLS_NAME = re.compile(
    r"AWSLambdaPowertoolsPython(?P<line>V2|V3)?(?:-Arm64|-python(?P<python>3\d+)-(?:x86_64|arm64))?"
)
# (major line, layer version) -> aws-lambda-powertools version, as the Powertools docs' release
# notes name them ("docs(layer): update layer version number - v3.4.1 ... creates the layer version 6").
KNOWN_VERSIONS = {
    (3, 1): "3.0.0",
    (3, 2): "3.1.0",
    (3, 3): "3.2.0",
    (3, 5): "3.4.0",
    (3, 6): "3.4.1",
}
# The extras the published layers include (the Powertools docs: the layer holds the utilities'
# dependencies, Tracer's aws-xray-sdk, Validation's fastjsonschema, Parser's pydantic).
EXTRAS = {1: "pydantic", 2: "tracer,validation,parser", 3: "tracer,validation,parser"}
PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")
ZIP = "layer.zip"


@dataclass(frozen=True)
class PublicLayer:
    """A public layer this engine can build: what it installs, and why that version."""

    arn: str
    requirement: str
    reason: str
    pythons: tuple[str, ...] = PYTHONS  # V3 layers are published per Python version


def public_layer(layer_version_arn: str) -> PublicLayer | None:
    """What a known public layer version holds; None for a layer this engine does not know."""
    match = re.fullmatch(r"arn:[\w-]+:lambda:[\w-]+:(\d{12}):layer:([\w-]+):(\d+)", layer_version_arn)
    if match is None or match[1] != POWERTOOLS_ACCOUNT:
        return None
    name = POWERTOOLS_NAME.fullmatch(match[2])
    if name is None:
        return None
    major = {None: 1, "V2": 2, "V3": 3}[name["line"]]
    pythons = (f"3.{name['python'][1:]}",) if name["python"] else PYTHONS
    version = KNOWN_VERSIONS.get((major, int(match[3])))
    package = f"aws-lambda-powertools[{EXTRAS[major]}]"
    if version is not None:
        return PublicLayer(
            layer_version_arn, f"{package}=={version}", f"layer version {match[3]} carries {version}", pythons
        )
    return PublicLayer(
        layer_version_arn,
        f"{package}>={major},<{major + 1}",
        f"layer version {match[3]} is not in the known table: the newest {major}.x release",
        pythons,
    )


def unknown_layer_message(layer_version_arn: str) -> str:
    return (
        f"layer {layer_version_arn} belongs to another account and the embedded engine cannot fetch it from AWS; "
        "build its content into a layer of your own (a zip with a python/ folder, as AWS::Serverless::LayerVersion "
        "or `aws lambda publish-layer-version`) and name that one instead. Public layers resolved here: Powertools "
        f"for AWS Lambda (Python) (account {POWERTOOLS_ACCOUNT})"
    )


def layer_folder(layer: PublicLayer) -> Path:
    """The layer's content (python/lib/python3.x/site-packages for each runtime), built once per machine."""
    key = re.sub(r"[^\w.-]+", "_", layer.arn.split(":layer:", 1)[1])
    path = cache_root() / "lambda-layers" / f"{key}-{platform.machine()}"
    arch = "aarch64" if platform.machine() in ("aarch64", "arm64") else "x86_64"

    def build(folder: Path) -> dict[str, str]:
        started = time.monotonic()
        LOG.warning(
            "building public layer %s once for this machine: %s (%s)", layer.arn, layer.requirement, layer.reason
        )
        steps = [
            [
                uv_binary(),
                "pip",
                "install",
                "--quiet",
                "--python-version",
                python,
                "--python-platform",
                f"{arch}-manylinux_2_17",
                "--target",
                str(folder / "python" / "lib" / f"python{python}" / "site-packages"),
                layer.requirement,
            ]
            for python in layer.pythons
        ]
        run_logged(steps, folder.with_name(f"{folder.name}.log"), os.environ, f"the layer {layer.arn}")
        for python in layer.pythons:  # the runtime's own SDK serves, as with the published layer
            _drop_sdk(folder / "python" / "lib" / f"python{python}" / "site-packages")
        (folder / ZIP).write_bytes(_zip_layer(folder))  # zipped once: every engine stores these bytes
        LOG.warning("public layer %s built in %.1f s", layer.arn, time.monotonic() - started)
        return {"arn": layer.arn, "requirement": layer.requirement}

    built_once(path, build, marker="testbed-layer.json")
    return path


class PublicLayerFetcher:
    """LocalStack's LayerFetcher: a local build of a known public layer, or a clear refusal."""

    def fetch_layer(self, layer_version_arn: str) -> Any:
        from localstack.aws.api.lambda_ import InvalidParameterValueException
        from localstack.services.lambda_ import api_utils
        from localstack.services.lambda_.invocation.lambda_models import Layer, LayerVersion
        from localstack.services.lambda_.invocation.lambda_service import store_lambda_archive

        layer = public_layer(layer_version_arn)
        if layer is None:
            raise InvalidParameterValueException(unknown_layer_message(layer_version_arn), Type="User")
        try:
            folder = layer_folder(layer)
        except Exception as err:
            raise InvalidParameterValueException(f"cannot build layer {layer_version_arn}: {err}", Type="User") from err
        region, account, name, version = api_utils.parse_layer_arn(layer_version_arn)
        code = store_lambda_archive(
            archive_file=(folder / ZIP).read_bytes(),
            function_name=name,
            region_name=region,
            account_id=account,
        )
        layer_arn = api_utils.layer_arn(layer_name=name, account=account, region=region)
        found = Layer(arn=layer_arn, next_version=int(version) + 1)
        found.layer_versions[version] = LayerVersion(
            layer_version_arn=layer_version_arn,
            layer_arn=layer_arn,
            version=int(version),
            code=code,
            license_info="MIT-0",
            compatible_runtimes=[f"python{python}" for python in layer.pythons],
            compatible_architectures=None,
            created=api_utils.generate_lambda_date(),
            description=f"{layer.requirement} (built locally from PyPI: {layer.reason})",
        )
        return found


# What the Python runtimes already hold (aws-xray-sdk pulls botocore in: 60 MB a Python version).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "python_dateutil", "urllib3", "six")


def _drop_sdk(site_packages: Path) -> None:
    for entry in site_packages.iterdir():
        name = entry.name.split("-")[0] if entry.name.endswith(".dist-info") else entry.name.removesuffix(".py")
        if name in RUNTIME_PACKAGES:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _zip_layer(folder: Path) -> bytes:
    """The layer's zip: its python/ folder under that name, as AWS extracts it to /opt/python."""
    from serverless_testbed.packaging import zip_files

    root = folder / "python"
    files: dict[str, bytes | str] = {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and path.suffix != ".pyc"
    }
    return zip_files(files)


@lambda_hooks.inject_layer_fetcher()
def public_layers(provider: Any) -> None:
    """Entry point `localstack.hooks.lambda_inject_layer_fetcher:testbed_public_layers`."""
    if inside_testbed_engine():
        provider.layer_fetcher = PublicLayerFetcher()
