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
from typing import Any

from ..quiet_log import QuietLog
from .persistence import PersistenceError, ValueStore

_LOGGER = logging.getLogger(__name__)
WRITE_INTERVAL = 0.1  # s


class ValueWrites:
    """A ValueStore that coalesces saves per (endpoint, path) and writes them in one batch."""

    def __init__(self, store: ValueStore, interval: float = WRITE_INTERVAL) -> None:
        self._store = store
        self._interval = interval
        self._pending: dict[str, dict[str, tuple[Any, float]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._quiet = QuietLog(_LOGGER)

    def save_values(self, endpoint: str, values: Iterable[tuple[str, Any, float]]) -> None:
        pending = self._pending.setdefault(endpoint, {})
        for path, value, stamp in values:
            pending[path] = (value, stamp)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self.flush)

    def flush(self) -> None:
        """Write what is pending now (also on stop, before a delete and before a load)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, {}
        for endpoint, values in pending.items():
            try:
                self._store.save_values(
                    endpoint, [(path, value, stamp) for path, (value, stamp) in values.items()]
                )
            except PersistenceError as err:  # a full disk costs the values, logged once a minute
                self._quiet.warn("flush", "Cannot store last values of %s: %s", endpoint, err)

    def delete_values(self, endpoint: str, path_prefix: str) -> None:
        self.flush()
        self._store.delete_values(endpoint, path_prefix)

    def load_values(self) -> dict[str, dict[str, tuple[Any, float]]]:
        self.flush()
        return self._store.load_values()
