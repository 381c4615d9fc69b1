"""SenML JSON (110) and SenML CBOR (112): RFC 8428 records as LwM2M 1.1 core §7.4.5-7.4.6 uses them.

Names are paths (base name + name), so these formats address any set of resources: a single
path, an object, or a composite of unrelated paths (composite Read/Write/Observe, Send).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import cbor2

from ..errors import CodecError
from ..paths import InvalidPath, Path, PathLevel
from ..values import Record
from .common import SENML_KEYS, TypeResolver, keyed_value, type_of_value, value_entry
from .plain import cbor_dumps, cbor_number

# RFC 8428 §6: the integer labels of SenML CBOR
_CBOR_LABELS = {-2: "bn", -3: "bt", 0: "n", 2: "v", 3: "vs", 4: "vb", 8: "vd", 6: "t"}
_CBOR_KEYS = {name: label for label, name in _CBOR_LABELS.items()}
_VALUE_KEYS = frozenset(SENML_KEYS)
RELATIVE_TIME_LIMIT = 2**28  # RFC 8428 §4.5.3: smaller times are relative to now


def _time(raw: object, fmt: str) -> float:
    if isinstance(raw, datetime):
        return raw.timestamp()
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise CodecError(f"{fmt}: time {raw!r} is not a number")
    return float(raw)


def _records(items: list[dict[str, Any]], fmt: str, types: TypeResolver) -> list[Record]:
    base_name, base_time = "", 0.0
    records: list[Record] = []
    for index, item in enumerate(items):
        if "bn" in item:
            if not isinstance(item["bn"], str):
                raise CodecError(f"{fmt}: record {index}: bn is not text")
            base_name = item["bn"]
        if "bt" in item:
            base_time = _time(item["bt"], fmt)
        name = item.get("n", "")
        if not isinstance(name, str):
            raise CodecError(f"{fmt}: record {index}: n is not text")
        try:
            path = Path.parse(base_name + name)
        except InvalidPath as err:
            raise CodecError(f"{fmt}: record {index}: {err}") from err
        value_keys = _VALUE_KEYS.intersection(item)
        if not value_keys:
            continue  # a record that only sets bn/bt, or names a path (composite request)
        if len(value_keys) > 1 or path.level < PathLevel.RESOURCE:
            raise CodecError(
                f"{fmt}: record {index} ({path}) needs exactly one value on a resource"
            )
        (key,) = value_keys
        value = keyed_value(key, item[key], types(path.resource_path), fmt, path)
        stamp = _stamp(item, base_time, fmt) if base_time or "t" in item else None
        records.append(Record(path, value, stamp))
    return records


def _stamp(item: dict[str, Any], base_time: float, fmt: str) -> float | None:
    if "t" not in item and not base_time:
        return None
    stamp = base_time + (_time(item["t"], fmt) if "t" in item else 0.0)
    return stamp + time.time() if stamp < RELATIVE_TIME_LIMIT else stamp


def _items(records: Sequence[Record], base: Path, types: TypeResolver, cbor: bool) -> list[Any]:
    prefix = f"{base}/"
    items: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if not base.contains(record.path):
            raise CodecError(f"SenML: record {record.path} is not under {base}")
        rtype = types(record.path.resource_path) or type_of_value(record.value)
        item: dict[str, Any] = {}
        if not base.level:
            item["n"] = str(record.path)
        elif record.path == base:
            if index == 0:
                item["bn"] = str(base)
        else:
            if index == 0:
                item["bn"] = prefix
            item["n"] = str(record.path)[len(prefix) :]
        value = record.value
        fmt = "SenML CBOR" if cbor else "SenML JSON"
        key, entry = value_entry(value, rtype, fmt, record.path, senml=True, cbor=cbor)
        item[key] = entry
        if record.time is not None:
            item["t"] = record.time
        items.append(item)
    return items


def decode_senml_json(payload: bytes, types: TypeResolver) -> list[Record]:
    try:
        items = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise CodecError(f"SenML JSON: not JSON: {err}") from err
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise CodecError("SenML JSON: payload is not an array of records")
    return _records(items, "SenML JSON", types)


def encode_senml_json(records: Sequence[Record], base: Path, types: TypeResolver) -> bytes:
    return json.dumps(_items(records, base, types, cbor=False), separators=(",", ":")).encode()


def _cbor_items(payload: bytes) -> list[dict[str, Any]]:
    try:
        raw = cbor2.loads(payload)
    except (cbor2.CBORDecodeError, ValueError, EOFError) as err:
        raise CodecError(f"SenML CBOR: not CBOR: {err}") from err
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise CodecError("SenML CBOR: payload is not an array of maps")
    items = []
    for item in raw:
        named: dict[str, Any] = {}
        for label, value in item.items():
            key = _CBOR_LABELS.get(label, label) if isinstance(label, int) else label
            if isinstance(key, str):
                named[key] = cbor_number(value)  # RFC 8428 §6: numbers may be tag 4 fractions
        items.append(named)
    return items


def decode_senml_cbor(payload: bytes, types: TypeResolver) -> list[Record]:
    return _records(_cbor_items(payload), "SenML CBOR", types)


def encode_senml_cbor(records: Sequence[Record], base: Path, types: TypeResolver) -> bytes:
    items = [
        {_CBOR_KEYS.get(key, key): value for key, value in item.items()}
        for item in _items(records, base, types, cbor=True)
    ]
    return cbor_dumps(items)


def encode_senml_paths(paths: Sequence[Path], cbor: bool) -> bytes:
    """A composite request body: one record per path, names only (LwM2M 1.1 core §6.3.5)."""
    items = [{"n": str(path)} for path in paths]
    if cbor:
        return cbor_dumps([{0: item["n"]} for item in items])
    return json.dumps(items, separators=(",", ":")).encode()


def decode_senml_paths(payload: bytes, cbor: bool) -> list[Path]:
    fmt = "SenML CBOR" if cbor else "SenML JSON"
    if cbor:
        items = _cbor_items(payload)
    else:
        try:
            items = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as err:
            raise CodecError(f"{fmt}: not JSON: {err}") from err
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise CodecError(f"{fmt}: payload is not an array of records")
    paths, base_name = [], ""
    for index, item in enumerate(items):
        base_name = item.get("bn", base_name)
        name = item.get("n", "")
        if not isinstance(base_name, str) or not isinstance(name, str):
            raise CodecError(f"{fmt}: record {index}: bn/n is not text")
        try:
            paths.append(Path.parse(base_name + name))
        except InvalidPath as err:
            raise CodecError(f"{fmt}: record {index}: {err}") from err
    return paths
