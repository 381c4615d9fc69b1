"""Device-side observations honouring the notification attributes (LwM2M 1.1 core §5.1.2).

pmin: no two notifications closer than pmin seconds; pmax: one at least every pmax seconds;
gt/lt: notify when a numeric value crosses the threshold; st: when it moved by at least st.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..lwm2m.paths import Path, PathLevel
from ..lwm2m.values import Value

Attributes = Mapping[str, float]


@dataclass(slots=True)
class DeviceObservation:
    paths: tuple[Path, ...]
    server_observation: Any  # aiocoap ServerObservation
    attributes: Callable[[Path], Attributes]
    value_of: Callable[[Path], Value | None]
    last_sent: float = field(default_factory=time.monotonic)
    last_value: Value | None = None
    pending: asyncio.TimerHandle | None = None
    periodic: asyncio.TimerHandle | None = None

    def __post_init__(self) -> None:
        self.last_value = self.value_of(self.paths[0])
        self._arm_pmax()

    def covers(self, changed: Path) -> bool:
        return any(path.contains(changed) or changed.contains(path) for path in self.paths)

    def changed(self, path: Path) -> None:
        """A value under this observation changed: notify now, later (pmin), or not (gt/lt/st)."""
        if not self.covers(path) or not self._passes_thresholds():
            return
        attributes = self.attributes(self.paths[0])
        wait = attributes.get("pmin", 0.0) - (time.monotonic() - self.last_sent)
        if wait <= 0:
            self.notify()
        elif self.pending is None:
            self.pending = asyncio.get_running_loop().call_later(wait, self.notify)

    def _passes_thresholds(self) -> bool:
        path = self.paths[0]
        if len(self.paths) != 1 or path.level < PathLevel.RESOURCE:
            return True
        attributes = self.attributes(path)
        new, old = self.value_of(path), self.last_value
        if not any(k in attributes for k in ("gt", "lt", "st")):
            return True
        if isinstance(new, bool) or not isinstance(new, int | float):
            return True
        if not isinstance(old, int | float) or isinstance(old, bool):
            return True
        for name in ("gt", "lt"):
            if name in attributes and (old > attributes[name]) != (new > attributes[name]):
                return True
        return "st" in attributes and abs(new - old) >= attributes["st"]

    def notify(self) -> None:
        self.pending = None
        self.last_sent = time.monotonic()
        self.last_value = self.value_of(self.paths[0])
        self.server_observation.trigger()
        self._arm_pmax()

    def _arm_pmax(self) -> None:
        if self.periodic is not None:
            self.periodic.cancel()
            self.periodic = None
        pmax = self.attributes(self.paths[0]).get("pmax")
        if pmax:
            self.periodic = asyncio.get_running_loop().call_later(pmax, self.notify)

    def close(self) -> None:
        for handle in (self.pending, self.periodic):
            if handle is not None:
                handle.cancel()
