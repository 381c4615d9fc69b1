"""Last values written behind: one SQLite commit per interval instead of one per notification.

A commit per notification was about a quarter of the gateway's CPU per notification (profiled
under a notification flood). Values are the one thing a crash may cost: what arrived in the last
`interval` (100 ms by default) before a kill -9 is not on disk, and the device's next
notification brings it back. Registrations, observations, credentials and decisions are still
written before they are answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..quiet_log import QuietLog
from .persistence import PersistenceError, ValueBatchStore

_LOGGER = logging.getLogger(__name__)
WRITE_INTERVAL = 0.1  # s


class ValueWrites:
    """A ValueStore that coalesces saves per (endpoint, path) and writes them in one batch,
    in a thread of its own: SQLite works without the GIL, so the event loop goes on handling
    notifications while a batch is written (inline, a batch of a 4,000/s flood held the loop
    for milliseconds every interval)."""

    def __init__(self, store: ValueBatchStore, interval: float = WRITE_INTERVAL) -> None:
        self._store = store
        self._interval = interval
        self._pending: dict[str, dict[str, tuple[Any, float]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="value-writes")
        self._writing: Future[None] | None = None
        self._quiet = QuietLog(_LOGGER)

    def save_values(self, endpoint: str, values: Iterable[tuple[str, Any, float]]) -> None:
        pending = self._pending.get(endpoint)
        if pending is None:
            pending = self._pending[endpoint] = {}
        for path, value, stamp in values:
            pending[path] = (value, stamp)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self._write_behind)

    def _write_behind(self) -> None:
        self._timer = None
        if not self._pending:
            return
        if self._writing is not None and not self._writing.done():
            # the last batch is still being written: this one grows until the next interval
            self._timer = asyncio.get_running_loop().call_later(self._interval, self._write_behind)
            return
        batch, self._pending = self._pending, {}
        self._writing = self._writer.submit(self._write, batch)

    def _write(self, batch: dict[str, dict[str, tuple[Any, float]]]) -> None:
        try:
            self._store.save_value_batch(batch)
        except PersistenceError as err:  # a full disk costs the values, logged once a minute
            self._quiet.warn("flush", "Cannot store the last values of %d endpoints: %s",
                             len(batch), err)  # fmt: skip

    def flush(self) -> None:
        """Write what is pending now, and wait for it (on stop, before a delete and before a
        load)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing is not None:
            self._writing.result()  # the batch in the writer's hands reaches the disk first
            self._writing = None
        batch, self._pending = self._pending, {}
        if batch:
            self._write(batch)

    def close(self) -> None:
        self.flush()
        self._writer.shutdown(wait=True)

    def delete_values(self, endpoint: str, path_prefix: str) -> None:
        self.flush()
        self._store.delete_values(endpoint, path_prefix)

    def load_values(self) -> dict[str, dict[str, tuple[Any, float]]]:
        self.flush()
        return self._store.load_values()
