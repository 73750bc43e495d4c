"""A module whose import fails: the function's init error, as AWS reports it."""

SETTINGS = {"region": "eu-west-1"}
TABLE = SETTINGS["table"]  # KeyError at import time


def handler(event, context):
    return TABLE
