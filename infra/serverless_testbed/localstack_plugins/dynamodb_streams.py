"""DynamoDB Streams records as AWS writes them, patched into moto-ext's stream shard.

Moto-ext (5.1.x) writes stream records unlike AWS; these patches, applied when the
embedded engine's DynamoDB provider loads, make them match:

- an INSERT carries no `OldImage` and a REMOVE no `NewImage` (moto: `{}`);
- a write that leaves the item as it was writes no record (moto: a MODIFY);
- an UpdateItem that creates its item writes one INSERT with the full new image (moto: two
  INSERTs, the first with only the key);
- `eventVersion` is `1.1` (moto: `1.0`) and `SizeBytes` counts keys and images as AWS does;
- binary values arrive base64-encoded once (moto stores them base64-encoded, and its
  response serializer encodes them again).

For upstream (getmoto/moto, `moto/dynamodb/models/table.py`): `StreamRecord` should leave
out the image that does not exist, use eventVersion 1.1 and keep binary values as bytes;
`StreamShard.add` should skip unchanged items; `DynamoDBBackend.update_item` should not
emit the record of its internal `put_item`.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Any

EVENT_VERSION = "1.1"
_PATCHED = "_testbed_stream_fidelity"
_pending = threading.local()


def decode_binaries(value: Any) -> Any:
    """An AttributeValue tree with `B`/`BS` base64 text turned back into bytes."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for kind, inner in value.items():
        if kind == "B" and isinstance(inner, str):
            out[kind] = base64.b64decode(inner)
        elif kind == "BS" and isinstance(inner, list):
            out[kind] = [base64.b64decode(v) if isinstance(v, str) else v for v in inner]
        elif kind == "M" and isinstance(inner, dict):
            out[kind] = {k: decode_binaries(v) for k, v in inner.items()}
        elif kind == "L" and isinstance(inner, list):
            out[kind] = [decode_binaries(v) for v in inner]
        else:
            out[kind] = inner
    return out


def attribute_size(value: Any) -> int:
    """Bytes of one AttributeValue as DynamoDB counts them (names and values, UTF-8)."""
    if not isinstance(value, dict) or not value:
        return 0
    kind, inner = next(iter(value.items()))
    if kind in ("S", "N"):
        return len(str(inner).encode())
    if kind == "B":
        return len(inner) if isinstance(inner, bytes) else len(base64.b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: v}) for v in inner)
    if kind == "M":
        return sum(len(k.encode()) + attribute_size(v) for k, v in inner.items())
    if kind == "L":
        return sum(attribute_size(v) for v in inner)
    return 0


def image_size(image: dict[str, Any] | None) -> int:
    """Bytes of an item (or a key) as DynamoDB counts them."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in (image or {}).items())


def aws_record(record: dict[str, Any]) -> dict[str, Any]:
    """A moto stream record in AWS's shape (see the module docstring)."""
    change = record["dynamodb"]
    event = record.get("eventName")
    if event == "INSERT":
        change.pop("OldImage", None)
    elif event == "REMOVE":
        change.pop("NewImage", None)
    for key in ("Keys", "NewImage", "OldImage"):
        if key in change:
            change[key] = {name: decode_binaries(value) for name, value in change[key].items()}
    change["SizeBytes"] = sum(image_size(change.get(key)) for key in ("Keys", "NewImage", "OldImage"))
    record["eventVersion"] = EVENT_VERSION
    return record


def unchanged(old: Any, new: Any) -> bool:
    """True when a write leaves the item exactly as it was (AWS writes no record then)."""
    return old is not None and new is not None and bool(old.to_json() == new.to_json())


def install(table_module: Any, backend_module: Any) -> None:
    """Patch moto's StreamRecord, StreamShard.add and DynamoDBBackend.update_item (once)."""
    if getattr(table_module, _PATCHED, False):
        return
    record_class, shard_class = table_module.StreamRecord, table_module.StreamShard
    backend_class = backend_module.DynamoDBBackend
    original_init: Callable[..., None] = record_class.__init__
    original_add: Callable[..., None] = shard_class.add
    original_update: Callable[..., Any] = backend_class.update_item

    def record_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        aws_record(self.record)

    def add(self: Any, old: Any, new: Any) -> None:
        if unchanged(old, new):
            return
        collected = getattr(_pending, "adds", None)
        if collected is not None:
            collected.append((self, old, new))
            return
        original_add(self, old, new)

    def update_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_pending, "adds", None) is not None:
            return original_update(self, *args, **kwargs)
        _pending.adds = []
        try:
            return original_update(self, *args, **kwargs)
        finally:
            collected, _pending.adds = _pending.adds, None
            if collected:
                # One change per UpdateItem: from the item before the first write to the item after the last.
                shard, old, new = collected[-1][0], collected[0][1], collected[-1][2]
                if not unchanged(old, new):
                    original_add(shard, old, new)

    record_class.__init__ = record_init
    shard_class.add = add
    backend_class.update_item = update_item
    setattr(table_module, _PATCHED, True)
