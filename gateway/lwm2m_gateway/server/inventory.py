"""The inventory of registered devices (a Discover, then a Read, of each announced object),
paced apart from registering.

A registration storm (10,000 devices coming back after an outage) is answered at once and the
devices are usable at once; their inventories follow from a queue, at most
`inventory_concurrency` at a time and `inventory_rate` a second, so the storm never starves
notifications. The queue holds each endpoint once, so every device is inventoried however
large the storm. A device that registers again with the links of its last inventory, within
`inventory_valid_for` seconds of it, keeps that inventory (what its Notifies and Sends
report keeps it current) and is not read again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Sequence

from ..lwm2m.errors import UnknownEndpoint
from ..lwm2m.model import ObjectRegistry
from ..lwm2m.registration import Registration
from .config import ServerConfig
from .device_management import DeviceManagement
from .endpoint import EndpointState
from .events import EventBus
from .persistence import InventoryStore, PersistenceError
from .registrations import Registrations
from .tasks import BackgroundTasks

_LOGGER = logging.getLogger(__name__)


def signature(registration: Registration) -> str:
    """What an inventory depends on: the objects and instances announced, the alternate root,
    the formats and the LwM2M version."""
    return json.dumps(
        [
            registration.lwm2m_version,
            registration.root_path,
            sorted(registration.content_formats),
            sorted(
                (oid, entry.version, sorted(entry.instances))
                for oid, entry in registration.objects.items()
            ),
        ]
    )


class Inventory:
    def __init__(
        self,
        config: ServerConfig,
        *,
        device: DeviceManagement,
        registrations: Registrations,
        events: EventBus,
        store: InventoryStore,
        tasks: BackgroundTasks,
        registry: ObjectRegistry,
    ) -> None:
        self._config = config
        self._device = device
        self._registrations = registrations
        self._events = events
        self._store = store
        self._tasks = tasks
        self._registry = registry
        self._order: deque[str] = deque()  # endpoints in the order they asked
        self._wanted: dict[str, set[int]] = {}  # endpoint -> objects to inventory
        self._arrived = asyncio.Event()
        self._next_start = 0.0  # loop time before which no inventory starts (the pace)
        self._done: dict[str, tuple[str, float]] = {}  # endpoint -> (signature, when)
        self.running = 0
        self._pacing = 0  # taken from the queue, waiting for their start
        self.completed = 0
        self.reused = 0

    @property
    def waiting(self) -> int:
        """Inventories not started yet."""
        return len(self._wanted) + self._pacing

    def start(self) -> None:
        self._done = self._store.load_inventories()
        for _ in range(self._config.inventory_concurrency):  # cancelled with the other tasks
            self._tasks.spawn(self._work())

    def registered(self, state: EndpointState) -> None:
        """A new registration: reuse a still valid inventory, or queue a whole one."""
        if not self._config.initial_read:
            return
        done = self._done.get(state.name)
        valid_for = self._config.inventory_valid_for
        if (
            done is not None
            and valid_for > 0
            and done[0] == signature(state.registration)
            and time.time() - done[1] <= valid_for
            and (state.values or state.resources)  # what it learnt is still here
        ):
            self.reused += 1
            state.inventoried_at = done[1]
            self._emit(state)
            return
        self._queue(state.name, sorted(state.registration.objects))

    def updated(self, state: EndpointState, new_objects: Sequence[int]) -> None:
        """An Update announced objects the device did not have: inventory those."""
        if new_objects and self._config.initial_read:
            self._done.pop(state.name, None)
            self._queue(state.name, new_objects)

    def forget(self, endpoint: str) -> None:
        """It deregistered or expired: its place in the queue is dropped (the deque entry is
        skipped when reached)."""
        self._wanted.pop(endpoint, None)

    def _queue(self, endpoint: str, object_ids: Sequence[int]) -> None:
        wanted = self._wanted.get(endpoint)
        if wanted is None:
            self._wanted[endpoint] = set(object_ids)
            self._order.append(endpoint)
            self._arrived.set()
        else:
            wanted.update(object_ids)

    async def _next(self) -> tuple[str, set[int]]:
        while True:
            while self._order:
                endpoint = self._order.popleft()
                wanted = self._wanted.pop(endpoint, None)
                if wanted is not None:
                    return endpoint, wanted
            self._arrived.clear()
            await self._arrived.wait()

    async def _pace(self) -> None:
        """Start no more than inventory_rate inventories a second (0: no limit)."""
        rate = self._config.inventory_rate
        if rate <= 0:
            return
        loop = asyncio.get_running_loop()
        start = max(loop.time(), self._next_start)
        self._next_start = start + 1.0 / rate
        if (delay := start - loop.time()) > 0:
            await asyncio.sleep(delay)

    async def _work(self) -> None:
        while True:
            endpoint, wanted = await self._next()
            self._pacing += 1
            try:
                await self._pace()
            finally:
                self._pacing -= 1
            try:
                state = self._registrations.get(endpoint)
            except UnknownEndpoint:  # it left while waiting
                continue
            self.running += 1
            try:
                complete = await self._device.inventory(state, sorted(wanted))
            finally:
                self.running -= 1
            if not complete or not self._registrations.is_current(state):
                # it stopped answering (its values are read when asked for), or it registered
                # again meanwhile (that registration has its own turn)
                continue
            self.completed += 1
            now = state.inventoried_at = time.time()
            self._done[endpoint] = done = (signature(state.registration), now)
            try:
                self._store.save_inventory(endpoint, *done)
            except PersistenceError as err:  # it is inventoried again after a restart
                _LOGGER.debug("Cannot store the inventory of %s: %s", endpoint, err)
            self._emit(state)

    def _emit(self, state: EndpointState) -> None:
        self._events.emit("endpoint_inventoried", state.name, state.to_json(self._registry))
