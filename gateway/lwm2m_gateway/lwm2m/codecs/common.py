"""Helpers every codec shares: resolving a record's type and checking a value against it."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable

from ..errors import CodecError
from ..paths import Path, PathLevel
from ..values import ObjectLink, ResourceType, Value

TypeResolver = Callable[[Path], ResourceType | None]

NUMERIC = frozenset(
    {ResourceType.INTEGER, ResourceType.UNSIGNED_INTEGER, ResourceType.TIME, ResourceType.FLOAT}
)
INTEGRAL = frozenset({ResourceType.INTEGER, ResourceType.UNSIGNED_INTEGER, ResourceType.TIME})


def type_of_value(value: Value) -> ResourceType:
    """The natural type of a Python value, for encoders when the model does not know a path."""
    if isinstance(value, bool):
        return ResourceType.BOOLEAN
    if isinstance(value, int):
        return ResourceType.INTEGER
    if isinstance(value, float):
        return ResourceType.FLOAT
    if isinstance(value, bytes):
        return ResourceType.OPAQUE
    if isinstance(value, ObjectLink):
        return ResourceType.OBJLNK
    return ResourceType.STRING


def number_as(value: int | float, rtype: ResourceType | None, fmt: str, path: Path) -> Value:
    """A decoded number typed by the model: integral types must be whole numbers."""
    if isinstance(value, bool):
        raise CodecError(f"{fmt}: {path} expected a number, got a boolean", path=str(path))
    if rtype in INTEGRAL:
        if isinstance(value, float):
            if not value.is_integer():
                raise CodecError(
                    f"{fmt}: {path} is {rtype.value if rtype else ''}, got {value!r}",
                    path=str(path),
                )
            value = int(value)
        if rtype is ResourceType.UNSIGNED_INTEGER and value < 0:
            raise CodecError(f"{fmt}: {path} is unsigned, got {value}", path=str(path))
        return value
    if rtype is ResourceType.FLOAT:
        return float(value)
    if rtype is not None and rtype not in NUMERIC:
        raise CodecError(f"{fmt}: {path} is {rtype.value}, got number {value!r}", path=str(path))
    return value


def require_value_path(path: Path, fmt: str) -> None:
    if path.level < PathLevel.RESOURCE:
        raise CodecError(f"{fmt} carries a single value; {path} is not a resource", path=str(path))


def finite_or_text(value: float) -> bool:
    return math.isfinite(value)


# The value keys of the two JSON-ish record formats, by the kind of value they carry.
SENML_KEYS = {"v": "number", "vb": "boolean", "vs": "text", "vlo": "objlnk", "vd": "opaque"}
LWM2M_JSON_KEYS = {"v": "number", "bv": "boolean", "sv": "text", "ov": "objlnk"}
KIND_OF_KEY = {**SENML_KEYS, **LWM2M_JSON_KEYS}


def keyed_value(key: str, raw: object, rtype: ResourceType | None, fmt: str, path: Path) -> Value:
    """A record's value under its key (SenML `vs`, LwM2M JSON `sv`, ...), checked against the
    model's type. Opaque travels as base64url in SenML `vd` (bytes in CBOR), and as base64 in an
    LwM2M JSON `sv` of an opaque resource (LwM2M 1.1 core §7.4.4-7.4.5)."""
    kind = KIND_OF_KEY[key]
    if kind == "number":  # first, and with no error built ahead: nearly every notification
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise CodecError(f"{fmt}: {path}: {key} is not a number", path=str(path))
        return number_as(raw, rtype, fmt, path)
    where = str(path)
    wrong = CodecError(f"{fmt}: {path} is {rtype.value if rtype else '?'}, got {key}", path=where)
    if kind == "boolean":
        if not isinstance(raw, bool):
            raise CodecError(f"{fmt}: {path}: {key} is not a boolean", path=where)
        if rtype not in (None, ResourceType.BOOLEAN):
            raise wrong
        return raw
    if kind == "opaque":
        if rtype not in (None, ResourceType.OPAQUE):
            raise wrong
        if isinstance(raw, bytes):
            return raw
        if not isinstance(raw, str):
            raise CodecError(f"{fmt}: {path}: {key} is not base64 text", path=where)
        try:
            return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except (binascii.Error, ValueError) as err:
            raise CodecError(f"{fmt}: {path}: {key} is not base64url", path=where) from err
    if not isinstance(raw, str):
        raise CodecError(f"{fmt}: {path}: {key} is not text", path=where)
    if kind == "objlnk" or rtype is ResourceType.OBJLNK:
        try:
            return ObjectLink.parse(raw)
        except ValueError as err:
            raise CodecError(f"{fmt}: {path}: {err}", path=where) from err
    if rtype is ResourceType.OPAQUE and key == "sv":
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as err:
            raise CodecError(f"{fmt}: {path}: opaque {key} is not base64", path=where) from err
    if rtype not in (None, ResourceType.STRING, ResourceType.CORELNK):
        raise wrong
    return raw


def value_entry(
    value: Value, rtype: ResourceType, fmt: str, path: Path, *, senml: bool, cbor: bool = False
) -> tuple[str, object]:
    """The key and JSON/CBOR item a value is written under (the inverse of keyed_value)."""
    if rtype is ResourceType.BOOLEAN:
        return ("vb" if senml else "bv"), bool(value)
    if isinstance(value, bytes):
        if not senml:
            return "sv", base64.b64encode(value).decode()
        return "vd", value if cbor else base64.urlsafe_b64encode(value).decode().rstrip("=")
    if rtype is ResourceType.OBJLNK:
        return ("vlo" if senml else "ov"), str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value) and not cbor:
            raise CodecError(f"{fmt} cannot carry {value} at {path}", path=str(path))
        return "v", value
    return ("vs" if senml else "sv"), str(value)
