"""Validation step: reads the uploaded CSV from S3 (ranged reads) and judges the whole file.

Returns the verdict (valid, reasons, codes, row counts), a one-line summary for the
notification and the Fail state, and where the file and its reports go next: the
archive key, the error key, the key of the rejected-rows report and the load id that
names this version of the file in the stage table.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from reading import check_file
from storage import RangedObject

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)


def placement(key: str, etag: str) -> dict[str, str]:
    """Where a file under the source prefix goes: same relative path under archive/ or
    error/; its rejected rows next to it under error/."""
    source = os.environ.get("SOURCE_PREFIX", "source/")
    relative = key.removeprefix(source)
    stem = relative.removesuffix(".csv")
    error = os.environ.get("ERROR_PREFIX", "error/")
    return {
        "archive_key": os.environ.get("ARCHIVE_PREFIX", "archive/") + relative,
        "error_key": error + relative,
        "rejects_key": f"{error}{stem}.rejected-rows.jsonl",
        # One version of one file: loading it again overwrites the same stage rows.
        "load_id": f"{key}#{etag.strip(chr(34))}",
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket, key = event["bucket"], event["key"]
    body = RangedObject(bucket, key)  # bounded ranged reads, all of one version
    result = check_file(iter(body), int(os.environ.get("MAX_ROWS", "1000000")))
    etag = str(body.etag)  # the load reads exactly this version
    if result["valid"]:
        summary = f"{key}: valid, {result['rows']} rows, {result['rejected']} to reject"
    else:
        summary = f"{key}: " + "; ".join(f"{r['code']} ({r['detail']})" for r in result["reasons"])
    LOG.info(json.dumps({"key": key, "valid": result["valid"], "codes": result["codes"], "rows": result["rows"]}))
    return {"bucket": bucket, "key": key, "etag": etag, "summary": summary, **result, **placement(key, etag)}
