"""The single-value formats: text/plain (0), application/octet-stream (42), CBOR (60).

LwM2M 1.1 core §7.4.1-7.4.3: they carry one resource or resource-instance value and no name,
so the request path places the value and the model types it.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import cbor2

from ..errors import CodecError
from ..paths import Path
from ..values import ObjectLink, Record, ResourceType, Value
from .common import number_as, require_value_path, type_of_value


def _only(records: Sequence[Record], fmt: str) -> Record:
    if len(records) != 1:
        raise CodecError(f"{fmt} encodes exactly one value, got {len(records)}")
    return records[0]


def decode_text(payload: bytes, base: Path, rtype: ResourceType | None) -> list[Record]:
    require_value_path(base, "text/plain")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CodecError(f"text/plain: {base} is not UTF-8", path=str(base)) from err
    value: Value
    try:
        match rtype:
            case ResourceType.INTEGER | ResourceType.UNSIGNED_INTEGER | ResourceType.TIME:
                value = number_as(int(text.strip()), rtype, "text/plain", base)
            case ResourceType.FLOAT:
                value = float(text.strip())
            case ResourceType.BOOLEAN:
                if text.strip() not in ("0", "1"):
                    raise ValueError
                value = text.strip() == "1"
            case ResourceType.OPAQUE:
                value = base64.b64decode(text, validate=True)
            case ResourceType.OBJLNK:
                value = ObjectLink.parse(text.strip())
            case _:
                value = text
    except (ValueError, binascii.Error) as err:
        expected = rtype.value if rtype else "text"
        raise CodecError(
            f"text/plain: {base} expected {expected}, got {text[:40]!r}", path=str(base)
        ) from err
    return [Record(base, value)]


def encode_text(records: Sequence[Record], rtype: ResourceType | None) -> bytes:
    record = _only(records, "text/plain")
    value = record.value
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, float):
        if value.is_integer() and math.isfinite(value) and rtype is not ResourceType.FLOAT:
            return str(int(value)).encode()
        return repr(value).encode()
    if isinstance(value, bytes):
        return base64.b64encode(value)
    return str(value).encode("utf-8")


def decode_opaque(payload: bytes, base: Path, rtype: ResourceType | None) -> list[Record]:
    require_value_path(base, "opaque")
    if rtype not in (None, ResourceType.OPAQUE):
        raise CodecError(f"opaque: {base} is {rtype.value}, not opaque", path=str(base))
    return [Record(base, payload)]


def encode_opaque(records: Sequence[Record]) -> bytes:
    value = _only(records, "opaque").value
    if not isinstance(value, bytes):
        raise CodecError(f"opaque: cannot encode {type(value).__name__} as opaque")
    return value


def cbor_value(raw: object, rtype: ResourceType | None, fmt: str, path: Path) -> Value:
    """A CBOR data item typed by the model (shared by CBOR, SenML CBOR and LwM2M CBOR)."""
    raw = cbor_number(raw)
    if isinstance(raw, bool):
        if rtype not in (None, ResourceType.BOOLEAN):
            raise CodecError(f"{fmt}: {path} is {rtype.value}, got a boolean", path=str(path))
        return raw
    if isinstance(raw, int | float):
        return number_as(raw, rtype, fmt, path)
    if isinstance(raw, bytes):
        if rtype not in (None, ResourceType.OPAQUE):
            raise CodecError(f"{fmt}: {path} is {rtype.value}, got bytes", path=str(path))
        return raw
    if isinstance(raw, str):
        if rtype is ResourceType.OBJLNK:
            try:
                return ObjectLink.parse(raw)
            except ValueError as err:
                raise CodecError(f"{fmt}: {path}: {err}", path=str(path)) from err
        if rtype not in (None, ResourceType.STRING, ResourceType.CORELNK):
            raise CodecError(f"{fmt}: {path} is {rtype.value}, got text", path=str(path))
        return raw
    raise CodecError(f"{fmt}: {path} has an unsupported CBOR item {type(raw).__name__}")


def cbor_number(raw: object) -> object:
    """Numbers cbor2 decodes into other types back to int/float; anything else unchanged.

    Tags 0 and 1 (RFC 8949 §3.4.1-2, epoch time) come as datetimes, tag 4 (decimal fraction,
    §3.4.4, which RFC 8428 §6 allows for any SenML number) as a Decimal.
    """
    if isinstance(raw, datetime):
        stamp = raw.timestamp()
        return int(stamp) if stamp.is_integer() else stamp
    if isinstance(raw, Decimal):
        return int(raw) if raw == raw.to_integral_value() else float(raw)
    return raw


def cbor_item(value: Value) -> object:
    if isinstance(value, ObjectLink):
        return str(value)
    return value


class _Float:
    """A float to be written in its shortest exact form (see cbor_dumps)."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value


def _shortest_floats(item: Any) -> Any:
    if type(item) is float:
        return _Float(item)
    if isinstance(item, dict):
        return {key: _shortest_floats(value) for key, value in item.items()}
    if isinstance(item, list):
        return [_shortest_floats(value) for value in item]
    return item


def _encode_float(encoder: cbor2.CBOREncoder, item: object) -> None:
    if not isinstance(item, _Float):
        raise CodecError(f"CBOR cannot encode {type(item).__name__}")
    encoder.write(cbor2.dumps(item.value, canonical=True))


def cbor_dumps(item: object) -> bytes:
    """CBOR with every float in its preferred serialization (RFC 8949 §4.1): half, single or
    double precision, the shortest that keeps the value; maps keep their insertion order.
    cbor2 writes every float as a double unless asked for canonical CBOR, which sorts maps."""
    return bytes(cbor2.dumps(_shortest_floats(item), default=_encode_float))


def decode_cbor(payload: bytes, base: Path, rtype: ResourceType | None) -> list[Record]:
    require_value_path(base, "CBOR")
    try:
        raw = cbor2.loads(payload)
    except (cbor2.CBORDecodeError, ValueError, EOFError) as err:
        raise CodecError(f"CBOR: {base}: {err}", path=str(base)) from err
    return [Record(base, cbor_value(raw, rtype, "CBOR", base))]


def encode_cbor(records: Sequence[Record]) -> bytes:
    return cbor_dumps(cbor_item(_only(records, "CBOR").value))


__all__ = [
    "cbor_dumps",
    "cbor_item",
    "cbor_number",
    "cbor_value",
    "decode_cbor",
    "decode_opaque",
    "decode_text",
    "encode_cbor",
    "encode_opaque",
    "encode_text",
    "type_of_value",
]
