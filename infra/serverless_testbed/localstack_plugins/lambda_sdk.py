"""The AWS SDK a function imports: the boto3 its AWS runtime ships, installed once per machine.

AWS's Python runtimes include boto3 and botocore; a function imports them without packaging
them. The version "depends on the runtime version and your AWS Region" (AWS Lambda developer
guide, "Building Lambda functions with Python", Runtime-included SDK versions), which AWS no
longer lists: `RUNTIME_SDK` pins one per runtime, 1.42.54 (February 2026, the release the
engine's LocalStack 4.14.0 runs on; AWS moves its runtimes to recent releases over the year).
The version matters beyond features: which errors are modeled classes decides a failed
function's errorType (S3's AccessDenied is a class in botocore 1.42.54, a plain ClientError
in 1.38.36), and so which Retry and Catch rules match. Older pins AWS once listed (python3.9:
boto3 1.20.32) predate AWS_ENDPOINT_URL support (botocore 1.31), so a function could not reach
the engine with them.

Each runtime's SDK is installed with uv from PyPI for the interpreter that runs the function,
so a python3.9 function gets urllib3 1.26 as botocore requires there (the engine's urllib3 2.x
does not import on 3.9), into a folder under the testbed's cache (`venv.built_once`: a lock
and a marker, built once, shared by every engine). Nothing of the engine's environment is on
the function's path.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import time
from pathlib import Path

from serverless_testbed.engine.venv import built_once, cache_root, run_logged, uv_binary

LOG = logging.getLogger(__name__)

# boto3 == botocore version per runtime (they are released together with one number).
RUNTIME_SDK = {
    "python3.9": "1.42.54",
    "python3.10": "1.42.54",
    "python3.11": "1.42.54",
    "python3.12": "1.42.54",
    "python3.13": "1.42.54",
}
# A runtime not in the table (python3.14) gets the newest pin.
DEFAULT_SDK = max(RUNTIME_SDK.values(), key=lambda version: [int(part) for part in version.split(".")])
_VERSION = "import sys; print('%d.%d.%d' % sys.version_info[:3])"


def sdk_version(runtime: str) -> str:
    """The boto3 (and botocore) version functions of `runtime` import."""
    return RUNTIME_SDK.get(runtime, DEFAULT_SDK)


@functools.cache
def sdk_folder(runtime: str, interpreter: str) -> Path:
    """A folder holding boto3, botocore and their dependencies for `interpreter` (the Python
    that runs functions of `runtime`), built first when this machine has none."""
    version = sdk_version(runtime)
    python = subprocess.run(
        [interpreter, "-I", "-S", "-c", _VERSION], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    path = cache_root() / "lambda-sdk" / f"boto3-{version}-py{python}"

    def build(folder: Path) -> dict[str, str]:
        started = time.monotonic()
        LOG.info("installing boto3 %s for %s (Python %s) once for this machine in %s", version, runtime, python, folder)
        steps = [
            [
                uv_binary(),
                "pip",
                "install",
                "--quiet",
                "--python",
                interpreter,
                "--target",
                str(folder),
                f"boto3=={version}",
                f"botocore=={version}",
            ]
        ]
        run_logged(steps, folder.with_name(f"{folder.name}.log"), os.environ, f"the AWS SDK for {runtime}")
        LOG.info("boto3 %s for Python %s ready in %.1f s", version, python, time.monotonic() - started)
        return {"boto3": version, "python": python}

    built_once(path, build, marker="testbed-sdk.json")
    return path
