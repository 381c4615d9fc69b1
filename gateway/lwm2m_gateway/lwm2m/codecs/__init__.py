"""The one codec registry: every LwM2M content format, decode and encode (LwM2M 1.1 core §7.4).

Contract shared by every format module:
- `decode(payload, fmt, base, types)` returns Records at resource or resource-instance paths,
  absolute (not relative to `base`). `base` is the path the request addressed; formats that carry
  no names (text, opaque, CBOR, TLV) use it to place the values.
- `encode(records, fmt, base, types)` is the inverse for a request to `base`.
- `types(path)` gives the model's ResourceType of a resource path (None when unknown); formats with
  untyped values (text, TLV, opaque) need it, self-describing ones use it to check.
- Anything malformed raises CodecError naming the format and the path or byte offset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import IntEnum

from ..errors import CodecError
from ..paths import Path, PathLevel
from ..values import Record, ResourceType
from .common import TypeResolver
from .lwm2m_cbor import decode_lwm2m_cbor, encode_lwm2m_cbor, encode_lwm2m_cbor_paths
from .lwm2m_json import decode_lwm2m_json, encode_lwm2m_json
from .plain import (
    decode_cbor,
    decode_opaque,
    decode_text,
    encode_cbor,
    encode_opaque,
    encode_text,
)
from .senml import (
    decode_senml_cbor,
    decode_senml_json,
    decode_senml_paths,
    encode_senml_cbor,
    encode_senml_json,
    encode_senml_paths,
)
from .tlv import decode_tlv, encode_tlv


class ContentFormat(IntEnum):
    """CoAP Content-Format numbers of the LwM2M formats (IANA CoRE parameters registry)."""

    TEXT = 0
    LINK_FORMAT = 40
    OPAQUE = 42
    CBOR = 60
    SENML_JSON = 110
    SENML_CBOR = 112
    OLD_TLV = 1542
    OLD_JSON = 1543
    TLV = 11542
    LWM2M_JSON = 11543
    LWM2M_CBOR = 11544


SUPPORTED_FORMATS = frozenset(ContentFormat) - {ContentFormat.LINK_FORMAT}
SINGLE_VALUE_FORMATS = frozenset({ContentFormat.TEXT, ContentFormat.OPAQUE, ContentFormat.CBOR})
# Formats that name full paths, and so can carry composite (multi-path) content.
COMPOSITE_FORMATS = frozenset(
    {ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR, ContentFormat.LWM2M_CBOR}
)
# Best first: compact and self-describing before verbose or untyped.
_PREFERENCE = (
    ContentFormat.LWM2M_CBOR,
    ContentFormat.SENML_CBOR,
    ContentFormat.SENML_JSON,
    ContentFormat.TLV,
    ContentFormat.LWM2M_JSON,
    ContentFormat.OLD_TLV,
    ContentFormat.OLD_JSON,
)


def _check(fmt: int) -> ContentFormat:
    try:
        known = ContentFormat(fmt)
    except ValueError:
        raise CodecError(f"unsupported content format {fmt}") from None
    if known not in SUPPORTED_FORMATS:
        raise CodecError(f"content format {fmt} does not carry resource values")
    return known


def _single_type(base: Path, fmt: ContentFormat, types: TypeResolver) -> ResourceType | None:
    if base.level < PathLevel.RESOURCE:
        raise CodecError(f"{fmt.name} carries one value; {base} is not a resource", path=str(base))
    return types(base.resource_path)


Decoder = Callable[[bytes, Path, TypeResolver], list[Record]]


def _single(fmt: ContentFormat, decoder: Callable[..., list[Record]]) -> Decoder:
    return lambda payload, base, types: decoder(payload, base, _single_type(base, fmt, types))


# by the content format's number: every notification is decoded, so no enum is made per call
_DECODERS: dict[int, Decoder] = {
    ContentFormat.TEXT: _single(ContentFormat.TEXT, decode_text),
    ContentFormat.OPAQUE: _single(ContentFormat.OPAQUE, decode_opaque),
    ContentFormat.CBOR: _single(ContentFormat.CBOR, decode_cbor),
    ContentFormat.TLV: decode_tlv,
    ContentFormat.OLD_TLV: decode_tlv,
    ContentFormat.LWM2M_JSON: decode_lwm2m_json,
    ContentFormat.OLD_JSON: decode_lwm2m_json,
    ContentFormat.SENML_JSON: lambda payload, base, types: decode_senml_json(payload, types),
    ContentFormat.SENML_CBOR: lambda payload, base, types: decode_senml_cbor(payload, types),
    ContentFormat.LWM2M_CBOR: lambda payload, base, types: decode_lwm2m_cbor(payload, types),
}


def decode(payload: bytes, fmt: int, base: Path, types: TypeResolver) -> list[Record]:
    decoder = _DECODERS.get(fmt)
    if decoder is None:
        _check(fmt)  # says why it is not one
        raise CodecError(f"content format {fmt} does not carry resource values")
    return decoder(payload, base, types)


def encode(records: Sequence[Record], fmt: int, base: Path, types: TypeResolver) -> bytes:
    known = _check(fmt)
    match known:
        case ContentFormat.TEXT:
            return encode_text(records, _single_type(base, known, types))
        case ContentFormat.OPAQUE:
            return encode_opaque(records)
        case ContentFormat.CBOR:
            return encode_cbor(records)
        case ContentFormat.TLV | ContentFormat.OLD_TLV:
            return encode_tlv(records, base, types)
        case ContentFormat.LWM2M_JSON | ContentFormat.OLD_JSON:
            return encode_lwm2m_json(records, base, types)
        case ContentFormat.SENML_JSON:
            return encode_senml_json(records, base, types)
        case ContentFormat.SENML_CBOR:
            return encode_senml_cbor(records, base, types)
        case _:
            return encode_lwm2m_cbor(records, base, types)


def encode_paths(paths: Sequence[Path], fmt: int) -> bytes:
    """The body of a composite Read/Observe request: the paths, without values."""
    match _check(fmt):
        case ContentFormat.SENML_JSON:
            return encode_senml_paths(paths, cbor=False)
        case ContentFormat.SENML_CBOR:
            return encode_senml_paths(paths, cbor=True)
        case ContentFormat.LWM2M_CBOR:
            return encode_lwm2m_cbor_paths(paths)
        case _:
            raise CodecError(f"content format {fmt} cannot carry a composite path list")


def decode_paths(payload: bytes, fmt: int) -> list[Path]:
    match _check(fmt):
        case ContentFormat.SENML_JSON:
            return decode_senml_paths(payload, cbor=False)
        case ContentFormat.SENML_CBOR:
            return decode_senml_paths(payload, cbor=True)
        case _:
            raise CodecError(f"content format {fmt} cannot carry a composite path list")


def preferred_formats(
    announced: Sequence[int], lwm2m_version: str, *, single_value: bool = False
) -> list[int]:
    """The formats to ask a device for, best first; the caller moves on after a 4.06.

    A device's registration announces what it supports (`ct=`); after those come the formats its
    LwM2M version makes mandatory (1.0: TLV; 1.1+: SenML CBOR or JSON, and TLV for most clients).
    """
    ordered = [fmt for fmt in _PREFERENCE if fmt in announced]
    fallbacks = (
        [ContentFormat.TLV, ContentFormat.OLD_TLV]
        if lwm2m_version.startswith("1.0")
        else [ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.TLV]
    )
    if single_value:
        ordered = [*ordered, ContentFormat.TEXT]
    for fmt in fallbacks:
        if fmt not in ordered:
            ordered.append(fmt)
    return [int(fmt) for fmt in ordered]


__all__ = [
    "COMPOSITE_FORMATS",
    "SINGLE_VALUE_FORMATS",
    "SUPPORTED_FORMATS",
    "ContentFormat",
    "PathLevel",
    "TypeResolver",
    "decode",
    "decode_paths",
    "encode",
    "encode_paths",
    "preferred_formats",
]
