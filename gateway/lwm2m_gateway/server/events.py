"""What the server tells the outside world: named events, and the bus that carries them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One thing that happened, named as the API event it becomes (docs/protocol.md)."""

    name: str
    endpoint: str
    data: Mapping[str, Any] = field(default_factory=dict)


EventListener = Callable[[ServerEvent], None]


class EventBus:
    """Fan-out to listeners; one failing listener never keeps an event from the others."""

    def __init__(self) -> None:
        self._listeners: list[EventListener] = []

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, name: str, endpoint: str, data: Mapping[str, Any]) -> None:
        event = ServerEvent(name, endpoint, data)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                _LOGGER.exception("Event listener failed on %s", name)
