"""Background work the roles start and the server stops: tasks and per-endpoint timers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from ..lwm2m.errors import Lwm2mError

_LOGGER = logging.getLogger(__name__)


class BackgroundTasks:
    """Tasks that outlive the request that started them; their failures are logged, once."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            if isinstance(error, Lwm2mError):
                _LOGGER.info("Background request failed: %s", error)
            else:
                _LOGGER.error("Background task failed", exc_info=error)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Timers:
    """One timer per key (e.g. an endpoint's expiry), rescheduled by setting it again."""

    def __init__(self) -> None:
        self._handles: dict[Hashable, asyncio.TimerHandle] = {}

    def set(self, key: Hashable, when: float, callback: Callable[[], None]) -> None:
        """Run callback at wall-clock time `when` (time.time()), replacing key's timer."""
        self.cancel(key)
        delay = max(0.0, when - time.time())

        def fire() -> None:
            self._handles.pop(key, None)
            callback()

        self._handles[key] = asyncio.get_running_loop().call_later(delay, fire)

    def cancel(self, key: Hashable) -> None:
        if (handle := self._handles.pop(key, None)) is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
