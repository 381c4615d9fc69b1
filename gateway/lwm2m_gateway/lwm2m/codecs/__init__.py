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

from collections.abc import Callable
from enum import IntEnum

from ..paths import Path
from ..values import ResourceType

TypeResolver = Callable[[Path], ResourceType | None]


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
