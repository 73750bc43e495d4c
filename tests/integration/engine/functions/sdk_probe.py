"""What a function finds importable: the AWS SDK of its runtime, and where it comes from."""

import sys

import boto3
import botocore
import urllib3


def handler(event, context):
    return {
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "urllib3": urllib3.__version__,
        "version": sys.version,
        "path": sys.path,
    }


def layered(event, context):
    """A function whose layers hold `event["module"]`: its version and file."""
    import importlib

    module = importlib.import_module(event["module"])
    return {"version": getattr(module, "__version__", None), "file": module.__file__}
