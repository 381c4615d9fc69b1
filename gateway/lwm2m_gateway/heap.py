"""The long-lived heap kept out of Python's full garbage collections.

With 10,000 registered devices a full collection walked every registration, observation and
value each time, for hundreds of milliseconds, and a notification that arrived meanwhile waited
(p99 672 ms at 1,000 notifications/s). What survives a full collection is long-lived: right
after each one (and once at start-up) `gc.freeze()` moves it to the permanent generation, which
later collections skip, so each full collection walks only what is new since the last. Cyclic
garbage among frozen objects is not reclaimed; a device's state is freed by reference counting
when it goes, so that costs little.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

_LOGGER = logging.getLogger(__name__)
FULL = 2  # the oldest generation


class HeapSettler:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self.freezes = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        gc.collect()
        self.freeze()  # what start-up restored is long-lived
        gc.callbacks.append(self._collected)

    async def stop(self) -> None:
        if self._collected in gc.callbacks:
            gc.callbacks.remove(self._collected)
        gc.unfreeze()

    def freeze(self) -> None:
        gc.freeze()
        self.freezes += 1

    def _collected(self, phase: str, info: dict[str, Any]) -> None:
        # inside the collector: freeze from the loop, right after this collection
        if phase == "stop" and info.get("generation") == FULL and self._loop is not None:
            self._loop.call_soon_threadsafe(self.freeze)
