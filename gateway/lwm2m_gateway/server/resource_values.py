"""The last known value of every resource: merged from reads, notifications and Send, stored,
and announced as `resource_changed` events."""

from __future__ import annotations

from collections.abc import Sequence

from ..lwm2m.paths import Path
from ..lwm2m.values import Record
from .endpoint import EndpointState
from .events import EventBus
from .persistence import ValueStore


class ResourceValues:
    def __init__(self, store: ValueStore, events: EventBus) -> None:
        self._store = store
        self._events = events

    def apply(self, state: EndpointState, records: Sequence[Record]) -> None:
        changed = state.apply(records)
        if not changed:
            return
        self._store.save_values(state.name, [(str(path), *state.values[path]) for path in changed])
        for path, history in changed.items():
            value, stamp = state.values[path]
            data = {"endpoint": state.name, "path": str(path), "value": value, "timestamp": stamp}
            if history:  # schema 4: the batch's earlier readings, oldest first
                data["history"] = [[when, earlier] for when, earlier in history]
            self._events.emit("resource_changed", state.name, data)

    def forget(self, state: EndpointState, path: Path) -> None:
        """Drop the values at and below path (after a Delete)."""
        state.forget(path)
        self._store.delete_values(state.name, str(path))

    def load(self) -> dict[str, dict[str, tuple[object, float]]]:
        return self._store.load_values()
