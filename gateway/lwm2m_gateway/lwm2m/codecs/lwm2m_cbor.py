"""LwM2M CBOR (11544), LwM2M 1.2 core §7.4.7: nested maps keyed by ids, with path compression.

`{3: {0: {0: "Open Mobile Alliance", 9: 87}}}`; a key may also be an array of ids standing for
several levels at once (`{[3, 0]: {0: ...}}`): the decoder accepts it, the encoder never emits it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cbor2

from ..errors import CodecError
from ..paths import InvalidPath, Path, PathLevel
from ..values import Record
from .common import TypeResolver
from .plain import cbor_dumps, cbor_item, cbor_value

FMT = "LwM2M CBOR"


def decode_lwm2m_cbor(payload: bytes, types: TypeResolver) -> list[Record]:
    try:
        root = cbor2.loads(payload)
    except (cbor2.CBORDecodeError, ValueError, EOFError) as err:
        raise CodecError(f"{FMT}: not CBOR: {err}") from err
    if not isinstance(root, dict):
        raise CodecError(f"{FMT}: payload is not a map")
    records: list[Record] = []

    def walk(node: dict[Any, Any], ids: tuple[int, ...]) -> None:
        for key, child in node.items():
            keys = list(key) if isinstance(key, list | tuple) else [key]
            if not keys or not all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
                raise CodecError(
                    f"{FMT}: key {key!r} under /{'/'.join(map(str, ids))} is not an id"
                )
            path_ids = ids + tuple(keys)
            if len(path_ids) > 4:
                raise CodecError(f"{FMT}: path {path_ids} is deeper than a resource instance")
            if isinstance(child, dict):
                walk(child, path_ids)
                continue
            try:
                path = Path.from_ids(path_ids)
            except InvalidPath as err:
                raise CodecError(f"{FMT}: {err}") from err
            if path.level < PathLevel.RESOURCE:
                raise CodecError(f"{FMT}: value at {path}, which is not a resource")
            records.append(Record(path, cbor_value(child, types(path.resource_path), FMT, path)))

    walk(root, ())
    return records


def encode_lwm2m_cbor(records: Sequence[Record], base: Path, types: TypeResolver) -> bytes:
    root: dict[int, Any] = {}
    for record in records:
        if not base.contains(record.path):
            raise CodecError(f"{FMT}: record {record.path} is not under {base}")
        *parents, last = record.path.ids
        node = root
        for ident in parents:
            child = node.setdefault(ident, {})
            if not isinstance(child, dict):
                raise CodecError(f"{FMT}: {record.path} is below a value")
            node = child
        node[last] = cbor_item(record.value)
    return cbor_dumps(root)


def encode_lwm2m_cbor_paths(paths: Sequence[Path]) -> bytes:
    """Composite request body in LwM2M CBOR: the paths as leaves with null values."""
    root: dict[int, Any] = {}
    for path in paths:
        *parents, last = path.ids or (0,)
        node = root
        for ident in parents:
            node = node.setdefault(ident, {})
        node[last] = None
    return cbor_dumps(root)
