"""Helpers every codec shares: resolving a record's type and checking a value against it."""

from __future__ import annotations

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
