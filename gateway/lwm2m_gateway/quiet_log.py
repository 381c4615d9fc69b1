"""Log lines that cannot flood: at most one per key and interval, counting what was held back.

Anything a peer can trigger at will (a refused Register, a malformed notification, a garbage
datagram) is logged through this, so an attacker or a broken device costs one line a minute.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

MAX_KEYS = 10000  # keys remembered; past that (a spoofed-source flood) the memory starts over


class QuietLog:
    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        self._logger = logger
        self._interval = interval
        self._last: dict[str, tuple[float, int]] = {}  # key -> (last line, held back since)

    def due(self, key: str) -> int | None:
        """The number of lines held back for key since its last one, when a line is due now;
        None while it must stay quiet (that one is counted as held back)."""
        now = time.monotonic()
        last, held = self._last.get(key, (-math.inf, 0))
        if now - last < self._interval:
            self._last[key] = (last, held + 1)
            return None
        if len(self._last) > MAX_KEYS:
            self._last.clear()
        self._last[key] = (now, 0)
        return held

    def warn(self, key: str, message: str, *args: Any) -> None:
        self.log(logging.WARNING, key, message, *args)

    def info(self, key: str, message: str, *args: Any) -> None:
        self.log(logging.INFO, key, message, *args)

    def log(self, level: int, key: str, message: str, *args: Any) -> None:
        held = self.due(key)
        if held is not None:
            suffix = f" ({held} more like it not logged)" if held else ""
            self._logger.log(level, message + suffix, *args)


class BurstLog:
    """Routine lines (a device registered) one by one while they are few, and a count of the
    rest when a storm brings thousands at once: at most `limit` lines per `interval`, then
    one line saying how many were not logged, when the interval ends."""

    def __init__(
        self,
        logger: logging.Logger,
        limit: int = 20,
        interval: float = 10.0,
        level: int = logging.INFO,
    ) -> None:
        self._logger = logger
        self._level = level
        self._limit = limit
        self._interval = interval
        self._window = -math.inf
        self._count = 0
        self._held = 0
        self._what = ""

    def log(self, what: str, message: str, *args: Any) -> None:
        """Log message, unless the limit is reached; `what` names the held-back lines in the
        summary ("registrations")."""
        now = time.monotonic()  # the event loop's clock too
        if now - self._window >= self._interval:
            self._window, self._count = now, 0
        self._count += 1
        if self._count <= self._limit:
            self._logger.log(self._level, message, *args)
            return
        if not self._held:
            asyncio.get_running_loop().call_at(self._window + self._interval, self._summary)
        self._held += 1
        self._what = what

    def _summary(self) -> None:
        held, self._held = self._held, 0
        if held:
            self._logger.log(self._level, "... and %d more %s in %g s, not logged one by one",
                             held, self._what, self._interval)  # fmt: skip
