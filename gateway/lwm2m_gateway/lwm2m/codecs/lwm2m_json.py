"""LwM2M JSON (11543, and 1543 of LwM2M 1.0), LwM2M 1.1 core §7.4.4.

`{"bn": "/3/0/", "bt": t0, "e": [{"n": "0", "sv": "..."}, {"n": "9", "v": 87, "t": -5}]}`: one
base name and a list of entries with the value keys v, bv, sv, ov.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import CodecError
from ..paths import InvalidPath, Path, PathLevel
from ..values import Record
from .common import LWM2M_JSON_KEYS, TypeResolver, keyed_value, type_of_value, value_entry

FMT = "LwM2M JSON"


def decode_lwm2m_json(payload: bytes, base: Path, types: TypeResolver) -> list[Record]:
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise CodecError(f"{FMT}: not JSON: {err}") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("e"), list):
        raise CodecError(f'{FMT}: payload is not an object with an "e" array')
    base_name = doc.get("bn", str(base) + "/" if base.level else "/")
    base_time = doc.get("bt", 0)
    if not isinstance(base_name, str) or isinstance(base_time, bool):
        raise CodecError(f"{FMT}: bn must be text and bt a number")
    if not isinstance(base_time, int | float):
        raise CodecError(f"{FMT}: bt is not a number")
    records = []
    for index, entry in enumerate(doc["e"]):
        if not isinstance(entry, dict):
            raise CodecError(f"{FMT}: entry {index} is not an object")
        name = entry.get("n", "")
        if not isinstance(name, str):
            raise CodecError(f"{FMT}: entry {index}: n is not text")
        try:
            # bn + n, with one slash between: "/3/0/" + "1", "/3/0" + "/1" and "/3/0/1" + ""
            # all name /3/0/1 (Wakaama writes the second form).
            path = Path.parse(base_name.rstrip("/") + "/" + name.lstrip("/") if name else base_name)
        except InvalidPath as err:
            raise CodecError(f"{FMT}: entry {index}: {err}") from err
        if path.level < PathLevel.RESOURCE:
            raise CodecError(f"{FMT}: entry {index} ({path}) is not a resource")
        rtype = types(path.resource_path)
        keys = [key for key in LWM2M_JSON_KEYS if key in entry]
        if len(keys) != 1:
            raise CodecError(f"{FMT}: entry {index} ({path}) needs exactly one of v, bv, sv, ov")
        key = keys[0]
        value = keyed_value(key, entry[key], rtype, FMT, path)
        stamp: float | None = None
        if "t" in entry or base_time:
            offset = entry.get("t", 0)
            if isinstance(offset, bool) or not isinstance(offset, int | float):
                raise CodecError(f"{FMT}: entry {index}: t is not a number")
            stamp = float(base_time + offset)
        records.append(Record(path, value, stamp))
    return records


def encode_lwm2m_json(records: Sequence[Record], base: Path, types: TypeResolver) -> bytes:
    # A request to a resource or resource instance still names its values under the object
    # instance ({"bn": "/3/0/", "e": [{"n": "1", ...}]}), as Leshan and Wakaama clients expect,
    # not with the resource as base name and an empty name.
    named_under = (
        Path(base.object_id, base.instance_id) if base.level >= PathLevel.RESOURCE else base
    )
    prefix = f"{named_under}/" if named_under.level else "/"
    entries: list[dict[str, Any]] = []
    for record in records:
        if not base.contains(record.path):
            raise CodecError(f"{FMT}: record {record.path} is not under {base}")
        entry: dict[str, Any] = {"n": str(record.path)[len(prefix) :]}
        rtype = types(record.path.resource_path) or type_of_value(record.value)
        value = record.value
        key, item = value_entry(value, rtype, FMT, record.path, senml=False)
        entry[key] = item
        if record.time is not None:
            entry["t"] = record.time
        entries.append(entry)
    return json.dumps({"bn": prefix, "e": entries}, separators=(",", ":")).encode()
