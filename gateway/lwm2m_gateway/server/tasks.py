"""Background work the roles start and the server stops: tasks and per-endpoint timers."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from ..lwm2m.errors import Lwm2mError

_LOGGER = logging.getLogger(__name__)
CLOCK_SLACK = 0.001  # s: a deadline this close is due (the loop's clock is not time.time())


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
    """One deadline per key (e.g. an endpoint's expiry), moved by setting it again.

    The deadlines wait in one heap under one event-loop timer, armed for the earliest: a timer
    handle and two closures per endpoint were about 0.9 KiB of each of 10,000 devices. A moved
    or cancelled deadline stays in the heap until it comes up (or the heap is rebuilt), and is
    then skipped.
    """

    def __init__(self) -> None:
        self._due: dict[Hashable, tuple[float, Callable[..., None], tuple[Any, ...]]] = {}
        self._heap: list[tuple[float, int, Hashable]] = []
        self._order = itertools.count()  # equal deadlines fire in the order they were set
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = math.inf

    def set(self, key: Hashable, when: float, callback: Callable[..., None], *args: Any) -> None:
        """Call callback(*args) at wall-clock time `when` (time.time()), replacing key's."""
        self._due[key] = (when, callback, args)
        heapq.heappush(self._heap, (when, next(self._order), key))
        if len(self._heap) > 2 * len(self._due) + 64:  # mostly moved deadlines: rebuild
            self._heap = [(w, next(self._order), k) for k, (w, _, _) in self._due.items()]
            heapq.heapify(self._heap)
        if when < self._armed_for:
            self._arm(when)

    def cancel(self, key: Hashable) -> None:
        self._due.pop(key, None)
        if not self._due:
            self.cancel_all()

    def cancel_all(self) -> None:
        self._due.clear()
        self._heap.clear()
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._armed_for = None, math.inf

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        delay = max(0.0, when - time.time())
        self._timer = asyncio.get_running_loop().call_later(delay, self._fire)
        self._armed_for = when

    def _fire(self) -> None:
        self._timer, self._armed_for = None, math.inf
        heap, due = self._heap, self._due
        now = time.time() + CLOCK_SLACK
        while heap and heap[0][0] <= now:
            when, _, key = heapq.heappop(heap)
            entry = due.get(key)
            if entry is None or entry[0] != when:
                continue  # moved or cancelled since
            del due[key]
            try:
                entry[1](*entry[2])
            except Exception:
                _LOGGER.exception("Error in the timer of %s", key)
            now = time.time() + CLOCK_SLACK
        if heap and self._timer is None:
            self._arm(heap[0][0])
