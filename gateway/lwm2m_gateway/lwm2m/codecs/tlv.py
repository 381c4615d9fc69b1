"""OMA-TLV (11542, and 1542 of LwM2M 1.0), LwM2M 1.1 core §7.4.3.

TLV carries ids but no types, so values are typed from the model; a resource the model does not
know decodes as opaque bytes rather than failing.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from ..errors import CodecError
from ..paths import Path, PathLevel
from ..values import ObjectLink, Record, ResourceType, Value
from .common import TypeResolver, number_as, type_of_value

OBJECT_INSTANCE, RESOURCE_INSTANCE, MULTIPLE_RESOURCE, RESOURCE = 0, 1, 2, 3
_KIND_NAMES = ("object instance", "resource instance", "multiple resource", "resource")


def _read_tlvs(data: bytes, offset: int = 0) -> list[tuple[int, int, bytes, int]]:
    """Split a TLV sequence into (kind, id, value, offset) entries."""
    out = []
    pos, end = 0, len(data)
    while pos < end:
        start = pos
        header = data[pos]
        pos += 1
        kind = header >> 6
        id_len = 2 if header & 0x20 else 1
        length_len = (header >> 3) & 0x3
        if pos + id_len + length_len > end:
            raise CodecError(f"TLV: truncated header at byte {offset + start}")
        ident = int.from_bytes(data[pos : pos + id_len], "big")
        pos += id_len
        if length_len:
            length = int.from_bytes(data[pos : pos + length_len], "big")
            pos += length_len
        else:
            length = header & 0x7
        if pos + length > end:
            raise CodecError(
                f"TLV: {_KIND_NAMES[kind]} {ident} at byte {offset + start} needs {length} bytes, "
                f"{end - pos} left"
            )
        out.append((kind, ident, data[pos : pos + length], offset + pos))
        pos += length
    return out


def _value(raw: bytes, rtype: ResourceType | None, path: Path) -> Value:
    size = len(raw)
    try:
        match rtype:
            case ResourceType.INTEGER | ResourceType.TIME:
                if size not in (1, 2, 4, 8):
                    raise ValueError(f"integer of {size} bytes")
                return int.from_bytes(raw, "big", signed=True)
            case ResourceType.UNSIGNED_INTEGER:
                if size not in (1, 2, 4, 8):
                    raise ValueError(f"unsigned integer of {size} bytes")
                return int.from_bytes(raw, "big", signed=False)
            case ResourceType.FLOAT:
                if size == 4:
                    return float(struct.unpack(">f", raw)[0])
                if size == 8:
                    return float(struct.unpack(">d", raw)[0])
                raise ValueError(f"float of {size} bytes")
            case ResourceType.BOOLEAN:
                if raw not in (b"\x00", b"\x01"):
                    raise ValueError(f"boolean {raw.hex()}")
                return raw == b"\x01"
            case ResourceType.OBJLNK:
                if size != 4:
                    raise ValueError(f"objlnk of {size} bytes")
                return ObjectLink(*struct.unpack(">HH", raw))
            case ResourceType.STRING | ResourceType.CORELNK:
                return raw.decode("utf-8")
            case _:
                return raw
    except (ValueError, UnicodeDecodeError) as err:
        raise CodecError(f"TLV: {path}: invalid {err}", path=str(path)) from err


def decode_tlv(payload: bytes, base: Path, types: TypeResolver) -> list[Record]:
    records: list[Record] = []

    def resource(kind: int, ident: int, raw: bytes, at: int, instance: Path) -> None:
        path = instance.child(ident)
        if kind == RESOURCE:
            records.append(Record(path, _value(raw, types(path), path)))
        elif kind == MULTIPLE_RESOURCE:
            for sub_kind, sub_id, sub_raw, _ in _read_tlvs(raw, at):
                if sub_kind != RESOURCE_INSTANCE:
                    raise CodecError(f"TLV: {path} holds a {_KIND_NAMES[sub_kind]}", path=str(path))
                records.append(Record(path.child(sub_id), _value(sub_raw, types(path), path)))
        else:
            raise CodecError(f"TLV: {_KIND_NAMES[kind]} where a resource was expected at byte {at}")

    entries = _read_tlvs(payload)
    match base.level:
        case PathLevel.OBJECT:
            for kind, ident, raw, at in entries:
                if kind != OBJECT_INSTANCE:
                    raise CodecError(
                        f"TLV: {base} expects object instances, got {_KIND_NAMES[kind]}"
                    )
                for entry in _read_tlvs(raw, at):
                    resource(*entry, base.child(ident))
        case PathLevel.INSTANCE:
            if len(entries) == 1 and entries[0][0] == OBJECT_INSTANCE:  # instance-wrapped form
                kind, ident, raw, at = entries[0]
                if ident != base.instance_id:
                    raise CodecError(
                        f"TLV: instance {ident} in a payload for {base}", path=str(base)
                    )
                entries = _read_tlvs(raw, at)
            for entry in entries:
                resource(*entry, base)
        case PathLevel.RESOURCE:
            for kind, ident, raw, at in entries:
                if kind in (RESOURCE, MULTIPLE_RESOURCE):
                    if ident != base.resource_id:
                        raise CodecError(f"TLV: resource {ident} in a payload for {base}")
                    resource(kind, ident, raw, at, base.parent)
                elif kind == RESOURCE_INSTANCE:
                    records.append(Record(base.child(ident), _value(raw, types(base), base)))
                else:
                    raise CodecError(f"TLV: {_KIND_NAMES[kind]} in a payload for {base}")
        case PathLevel.RESOURCE_INSTANCE:
            if len(entries) != 1 or entries[0][0] != RESOURCE_INSTANCE:
                raise CodecError(f"TLV: {base} expects one resource instance", path=str(base))
            records.append(Record(base, _value(entries[0][2], types(base.resource_path), base)))
        case _:
            raise CodecError("TLV cannot address the root path")
    return records


def _header(kind: int, ident: int, length: int) -> bytes:
    header = kind << 6
    ident_bytes = ident.to_bytes(2 if ident > 0xFF else 1, "big")
    if ident > 0xFF:
        header |= 0x20
    if length < 8:
        return bytes([header | length]) + ident_bytes
    size = 1 if length <= 0xFF else 2 if length <= 0xFFFF else 3
    return bytes([header | (size << 3)]) + ident_bytes + length.to_bytes(size, "big")


def _encode_value(value: Value, rtype: ResourceType | None, path: Path) -> bytes:
    rtype = rtype or type_of_value(value)
    if rtype in (ResourceType.INTEGER, ResourceType.UNSIGNED_INTEGER, ResourceType.TIME):
        number = number_as(value, rtype, "TLV", path) if isinstance(value, int | float) else None
        if not isinstance(number, int):
            raise CodecError(f"TLV: {path} expects an integer, got {value!r}", path=str(path))
        signed = rtype is not ResourceType.UNSIGNED_INTEGER or number < 2**63
        for size in (1, 2, 4, 8):
            try:
                return number.to_bytes(size, "big", signed=signed)
            except OverflowError:
                continue
        raise CodecError(f"TLV: {path} integer {number} does not fit 64 bits", path=str(path))
    if rtype is ResourceType.FLOAT:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CodecError(f"TLV: {path} expects a float, got {value!r}", path=str(path))
        try:
            single = struct.pack(">f", value)
        except OverflowError:
            return struct.pack(">d", value)
        return single if struct.unpack(">f", single)[0] == value else struct.pack(">d", value)
    if rtype is ResourceType.BOOLEAN:
        return b"\x01" if value else b"\x00"
    if rtype is ResourceType.OBJLNK:
        if not isinstance(value, ObjectLink):
            raise CodecError(f"TLV: {path} expects an object link, got {value!r}", path=str(path))
        return struct.pack(">HH", value.object_id, value.instance_id)
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def encode_tlv(records: Sequence[Record], base: Path, types: TypeResolver) -> bytes:
    """Encode records for a request to base: object -> instance TLVs, instance -> resources."""
    if base.level is PathLevel.ROOT:
        raise CodecError("TLV cannot address the root path")
    # group: instance -> resource -> single value or {resource instance: value}
    tree: dict[int, dict[int, Record | dict[int, Record]]] = {}
    for record in records:
        path = record.path
        if not base.contains(path) or path.level < PathLevel.RESOURCE:
            raise CodecError(f"TLV: record {path} is not under {base}")
        iid, rid = path.ids[1], path.ids[2]
        resources = tree.setdefault(iid, {})
        if path.resource_instance_id is None:
            resources[rid] = record
        else:
            slot = resources.setdefault(rid, {})
            if not isinstance(slot, dict):
                raise CodecError(f"TLV: {path} mixes single and multiple values")
            slot[path.resource_instance_id] = record

    def resource_tlv(rid: int, slot: Record | dict[int, Record]) -> bytes:
        if isinstance(slot, Record):
            raw = _encode_value(slot.value, types(slot.path), slot.path)
            return _header(RESOURCE, rid, len(raw)) + raw
        inner = b""
        for riid, record in sorted(slot.items()):
            raw = _encode_value(record.value, types(record.path.resource_path), record.path)
            inner += _header(RESOURCE_INSTANCE, riid, len(raw)) + raw
        return _header(MULTIPLE_RESOURCE, rid, len(inner)) + inner

    if base.level is PathLevel.RESOURCE_INSTANCE:
        (slot,) = (tree[base.instance_id or 0][base.resource_id or 0],)
        assert isinstance(slot, dict)
        record = slot[base.resource_instance_id or 0]
        raw = _encode_value(record.value, types(base.resource_path), base)
        return _header(RESOURCE_INSTANCE, base.resource_instance_id or 0, len(raw)) + raw
    body = b""
    for iid, resources in sorted(tree.items()):
        inner = b"".join(resource_tlv(rid, slot) for rid, slot in sorted(resources.items()))
        if base.level is PathLevel.OBJECT:
            body += _header(OBJECT_INSTANCE, iid, len(inner)) + inner
        else:
            body += inner
    return body
