"""Log lines that cannot flood: at most one per key and interval, counting what was held back.

Anything a peer can trigger at will (a refused Register, a malformed notification, a garbage
datagram) is logged through this, so an attacker or a broken device costs one line a minute.
"""

from __future__ import annotations

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
        held = self.due(key)
        if held is not None:
            suffix = f" ({held} more like it not logged)" if held else ""
            self._logger.warning(message + suffix, *args)
