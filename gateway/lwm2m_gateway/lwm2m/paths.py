"""The one LwM2M path type: /object/instance/resource/resource-instance (LwM2M 1.1 core §6.1)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Self

MAX_ID = 65535  # ids are 16-bit; 65535 is reserved (LwM2M 1.1 core §7.1) but still parses


class InvalidPath(ValueError):
    """A path string that is not /O, /O/I, /O/I/R or /O/I/R/RI with 16-bit ids."""


class PathLevel(IntEnum):
    ROOT = 0
    OBJECT = 1
    INSTANCE = 2
    RESOURCE = 3
    RESOURCE_INSTANCE = 4


@functools.total_ordering
@dataclass(frozen=True, slots=True)
class Path:
    """A path from the root ("/") down to a resource instance; unset trailing ids are None."""

    object_id: int | None = None
    instance_id: int | None = None
    resource_id: int | None = None
    resource_instance_id: int | None = None

    # derived once: paths are made and compared on every notification
    _ids: tuple[int, ...] = field(init=False, repr=False, compare=False, hash=False)
    _text: str | None = field(init=False, repr=False, compare=False, hash=False, default=None)
    _hash: int = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        ids = (self.object_id, self.instance_id, self.resource_id, self.resource_instance_id)
        level = ids.index(None) if None in ids else 4  # builtins only: made per notification
        if ids.count(None) != 4 - level:
            raise InvalidPath(f"path ids must be set from the left: {ids}")
        set_ids: tuple[int, ...] = ids[:level]  # type: ignore[assignment]
        if set_ids and (min(set_ids) < 0 or max(set_ids) > MAX_ID):
            bad = next(value for value in set_ids if not 0 <= value <= MAX_ID)
            raise InvalidPath(f"path id {bad} is outside 0..{MAX_ID}")
        object.__setattr__(self, "_ids", set_ids)
        object.__setattr__(self, "_hash", hash(ids))

    def __hash__(self) -> int:  # a notification hashes its path about six times
        return self._hash

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse "/3303/0/5700" (a leading slash is optional, "/" is the root)."""
        if cls is Path:
            return _parse_cached(text)  # type: ignore[return-value]
        return cls._parse(text)

    @classmethod
    def _parse(cls, text: str) -> Self:
        stripped = text.strip()
        if stripped in ("", "/"):
            return cls()
        parts = stripped.removeprefix("/").removesuffix("/").split("/")
        if len(parts) > 4:
            raise InvalidPath(f"path {text!r} has more than 4 levels")
        ids: list[int] = []
        for part in parts:
            # ASCII digits only: str.isdigit() also accepts "²" and "٣", which int() refuses
            if not (part.isascii() and part.isdigit()) or len(part) > 5:
                raise InvalidPath(f"path {text!r}: {part!r} is not a decimal id")
            ids.append(int(part))
        return cls.from_ids(ids)

    @classmethod
    def from_ids(cls, ids: Sequence[int]) -> Self:
        if len(ids) > 4:
            raise InvalidPath(f"path {ids} has more than 4 levels")
        padded: list[int | None] = [*ids, None, None, None, None]
        return cls(padded[0], padded[1], padded[2], padded[3])

    @property
    def ids(self) -> tuple[int, ...]:
        return self._ids

    @property
    def level(self) -> PathLevel:
        return _LEVELS[len(self._ids)]

    @property
    def parent(self) -> Path:
        ids = self.ids
        if not ids:
            raise InvalidPath("the root path has no parent")
        return Path.from_ids(ids[:-1])

    def child(self, child_id: int) -> Path:
        if self.level is PathLevel.RESOURCE_INSTANCE:
            raise InvalidPath(f"{self} is a resource instance and has no children")
        return Path.from_ids((*self.ids, child_id))

    def contains(self, other: Path) -> bool:
        """True when other is this path or below it."""
        mine = self.ids
        return other.ids[: len(mine)] == mine

    @property
    def resource_path(self) -> Path:
        """The resource this path is, or belongs to (for resource-instance paths)."""
        if self.level < PathLevel.RESOURCE:
            raise InvalidPath(f"{self} is not a resource path")
        if len(self._ids) == PathLevel.RESOURCE:
            return self
        return Path(self.object_id, self.instance_id, self.resource_id)

    def __lt__(self, other: object) -> bool:
        """Paths sort as their id tuples: /3 < /3/0 < /3/0/1 < /4."""
        if not isinstance(other, Path):
            return NotImplemented
        return self.ids < other.ids

    def __str__(self) -> str:
        text = self._text
        if text is None:
            text = "/" + "/".join(map(str, self._ids))
            object.__setattr__(self, "_text", text)
        return text

    def __repr__(self) -> str:
        return f"Path({str(self)!r})"


_LEVELS = tuple(PathLevel)


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Path:
    """Paths are immutable and devices send the same few names again and again."""
    return Path._parse(text)
