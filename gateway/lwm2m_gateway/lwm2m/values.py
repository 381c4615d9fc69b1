"""Typed resource values shared by codecs, server and API (LwM2M 1.1 core Appendix C)."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .paths import Path


class ResourceType(StrEnum):
    """The data types of the DDF <Type> element, named as in the XML (lower case)."""

    STRING = "string"
    INTEGER = "integer"
    UNSIGNED_INTEGER = "unsigned integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    OPAQUE = "opaque"
    TIME = "time"
    OBJLNK = "objlnk"
    CORELNK = "corelnk"
    NONE = "none"  # executable resources carry no value


@dataclass(frozen=True, slots=True, order=True)
class ObjectLink:
    """An Objlnk value, "object:instance" (LwM2M 1.1 core Appendix C)."""

    object_id: int
    instance_id: int

    @classmethod
    def parse(cls, text: str) -> ObjectLink:
        left, sep, right = text.partition(":")
        digits = left.isascii() and right.isascii() and len(left) <= 5 and len(right) <= 5
        if not sep or not digits or not left.isdigit() or not right.isdigit():
            raise ValueError(f"object link {text!r} is not 'object:instance'")
        link = cls(int(left), int(right))
        if link.object_id > 65535 or link.instance_id > 65535:
            raise ValueError(f"object link {text!r} has an id over 65535")
        return link

    def __str__(self) -> str:
        return f"{self.object_id}:{self.instance_id}"


# Time values are int seconds since the epoch; corelnk values are str.
Value = int | float | bool | str | bytes | ObjectLink


@dataclass(frozen=True, slots=True)
class Record:
    """One value at a resource or resource-instance path, with its SenML time when one was sent."""

    path: Path
    value: Value
    time: float | None = None


def to_json(value: Value) -> Any:
    """The API's JSON form of a value: opaque as base64 text, object links as "3:0"."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, ObjectLink):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def coerce(value: Any, resource_type: ResourceType, *, field: str = "value") -> Value:
    """Turn a JSON (or text) value into the typed value the model asks for.

    Raises ValueError naming the field and the expected type, so API callers can act on it.
    """
    try:
        match resource_type:
            case ResourceType.STRING | ResourceType.CORELNK:
                if isinstance(value, str):
                    return value
            case ResourceType.INTEGER | ResourceType.TIME | ResourceType.UNSIGNED_INTEGER:
                if isinstance(value, bool):
                    pass
                elif isinstance(value, int):
                    number = value
                elif isinstance(value, float) and value.is_integer():
                    number = int(value)
                elif isinstance(value, str):
                    number = int(value.strip())
                else:
                    raise TypeError
                if resource_type is ResourceType.UNSIGNED_INTEGER and number < 0:
                    raise ValueError(f"{field}: {value!r} is negative, expected unsigned integer")
                if not -(2**63) <= number < 2**64:
                    raise ValueError(f"{field}: {value!r} does not fit in 64 bits")
                return number
            case ResourceType.FLOAT:
                if isinstance(value, bool):
                    pass
                elif isinstance(value, int | float):
                    return float(value)
                elif isinstance(value, str):
                    return float(value.strip())
            case ResourceType.BOOLEAN:
                if isinstance(value, bool):
                    return value
                if value in (0, 1, "0", "1"):
                    return bool(int(value))
                if isinstance(value, str) and value.lower() in ("true", "false"):
                    return value.lower() == "true"
            case ResourceType.OPAQUE:
                if isinstance(value, bytes):
                    return value
                if isinstance(value, str):
                    return base64.b64decode(value, validate=True)
            case ResourceType.OBJLNK:
                if isinstance(value, ObjectLink):
                    return value
                if isinstance(value, str):
                    return ObjectLink.parse(value)
            case ResourceType.NONE:
                pass
    except (ValueError, TypeError) as err:
        if isinstance(err, ValueError) and str(err).startswith(field):
            raise
        raise ValueError(f"{field}: {value!r} is not a valid {resource_type.value}") from err
    raise ValueError(f"{field}: {value!r} is not a valid {resource_type.value}")
