"""What the server tells the outside world: named events, and the bus that carries them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NamedTuple

_LOGGER = logging.getLogger(__name__)


class ServerEvent(NamedTuple):
    """One thing that happened, named as the API event it becomes (docs/protocol.md). (A
    named tuple: one is made per notification, at a third of a frozen dataclass's cost.)"""

    name: str
    endpoint: str
    data: dict[str, Any]  # JSON-ready: it is the API event's data as is


EventListener = Callable[[ServerEvent], None]


class EventBus:
    """Fan-out to listeners; one failing listener never keeps an event from the others."""

    def __init__(self) -> None:
        # a tuple, replaced on (un)subscribe: an emit, per notification, copies nothing
        self._listeners: tuple[EventListener, ...] = ()

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            listeners = list(self._listeners)
            listeners.remove(listener)
            self._listeners = tuple(listeners)

        return unsubscribe

    def emit(self, name: str, endpoint: str, data: dict[str, Any]) -> None:
        event = ServerEvent(name, endpoint, data)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                _LOGGER.exception("Event listener failed on %s", name)
