"""The LwM2M server, composed: each role is built here, once, and handed what it needs.

Like Eclipse Leshan's server, it is a set of services rather than one object: `security`
(credentials), `admission` (unknown endpoints, limits), `registrations` (the endpoint
registry, /rd), `bootstrap` (the bootstrap server, /bs), `presence` (queue mode), `requests`
(the request sender),
`device` (device management), `inventory` (what a new registration has, paced),
`observations`, `send` (/dp), `firmware` (object 5 updates, /fw)
and `events`. Callers use the roles directly; this module only wires them and runs what
happens between them when a device registers.
"""

from __future__ import annotations

import asyncio

from ..lwm2m.model import ObjectRegistry
from .admission import Admission
from .bootstrap import BootstrapServer
from .config import REGISTER_SETTLE, ServerConfig
from .device_management import DeviceManagement
from .endpoint import EndpointState
from .events import EventBus
from .firmware_updates import FirmwareUpdates
from .inventory import Inventory
from .observations import Observations
from .persistence import Persistence
from .presence import Presence
from .registrations import Registrations
from .requests import RequestSender
from .resource_values import ResourceValues
from .security import Security
from .send import SendReceiver
from .tasks import BackgroundTasks
from .transport import CoapTransport
from .value_writes import ValueWrites


class Lwm2mServer:
    def __init__(
        self, *, store: Persistence, registry: ObjectRegistry, config: ServerConfig | None = None
    ) -> None:
        self.config = config = config or ServerConfig()
        self.store = store
        self.registry = registry
        self.events = EventBus()
        self.tasks = BackgroundTasks()
        self.security = Security(store)
        self.admission = Admission(config, store, self.events)
        self.transport = CoapTransport(
            config.host, config.coap_port, config.coaps_port, self.security.key_for_identity
        )
        self.presence = Presence(config, self.events)
        self.registrations = Registrations(
            config,
            store=store,
            events=self.events,
            presence=self.presence,
            registry=registry,
            security=self.security,
            admission=self.admission,
        )
        self.value_writes = ValueWrites(store)
        self.values = ResourceValues(self.value_writes, self.events)
        self.requests = RequestSender(config, self.transport, self.presence, registry)
        self.device = DeviceManagement(
            requests=self.requests,
            registrations=self.registrations,
            values=self.values,
            events=self.events,
            registry=registry,
        )
        self.inventory = Inventory(
            config,
            device=self.device,
            registrations=self.registrations,
            events=self.events,
            store=store,
            tasks=self.tasks,
            registry=registry,
        )
        self.observations = Observations(
            requests=self.requests,
            registrations=self.registrations,
            values=self.values,
            presence=self.presence,
            store=store,
            tasks=self.tasks,
        )
        self.send = SendReceiver(self.registrations, self.presence, self.values, registry)
        self.firmware: FirmwareUpdates | None = None
        if config.firmware is not None:
            self.firmware = FirmwareUpdates(
                config.firmware,
                store=store,
                transport=self.transport,
                registrations=self.registrations,
                device=self.device,
                observations=self.observations,
                events=self.events,
                tasks=self.tasks,
            )
        self.bootstrap = BootstrapServer(
            config,
            transport=self.transport,
            security=self.security,
            admission=self.admission,
            store=store,
            events=self.events,
            tasks=self.tasks,
            registry=registry,
        )
        self.transport.route("rd", self.registrations.handle)
        self.transport.route("dp", self.send.handle)
        self.lifecycle = EndpointLifecycle(self)
        self.registrations.add_listener(self.lifecycle)
        self.presence.on_wake(self.lifecycle.woke)
        self.presence.on_contact(self.lifecycle.contact)
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def coap_port(self) -> int:
        return self.transport.port

    @property
    def coaps_port(self) -> int:
        return self.transport.secure_port

    def device_uris(self) -> dict[str, str]:
        """The server URIs to configure in devices, per listener that is open."""
        host = self.config.public_host or self.config.fallback_host or self.config.host
        host = f"[{host}]" if ":" in host else host
        uris = {}
        if self.coap_port:
            uris["coap"] = f"coap://{host}:{self.coap_port}"
        if self.coaps_port:
            uris["coaps"] = f"coaps://{host}:{self.coaps_port}"
        return uris

    async def start(self) -> None:
        self.registrations.restore(self.values.load())
        await self.transport.start()
        self.inventory.start()
        if self.firmware is not None:
            self.firmware.resume()
        for state in self.registrations.states():
            self.lifecycle.restored(state)
        self._watchdog = self.tasks.spawn(self._watch_observations())

    async def _watch_observations(self) -> None:
        """Observations that died (ended without a cancel) or went silent past their pmax are
        re-established, also for devices that do not speak first."""
        interval = self.config.watchdog_interval
        while True:
            await asyncio.sleep(interval)
            for state in self.registrations.states():
                if state.asleep or not state.reachable:
                    continue  # they are healed when they next speak
                silence = self.config.observation_silence
                for key in self.observations.stale(state, margin=interval, silence=silence):
                    self.observations.restart(state.name, key)
                await self.observations.heal(state)  # nothing to do when nothing died

    async def stop(self) -> None:
        self.registrations.stop()
        self.presence.stop()
        if self.firmware is not None:
            self.firmware.stop()
        await self.tasks.cancel_all()
        # shut the transport first: aiocoap ends open observations with LibraryShutdown, but
        # raises in its own task if one was cancelled before
        await self.transport.stop()
        self.observations.stop()
        self.value_writes.close()  # the last values reach the disk before the store closes


class EndpointLifecycle:
    """What follows a registration (inventory, re-observing) and the end of one; a
    registration listener of the registry and a wake listener of presence."""

    def __init__(self, server: Lwm2mServer) -> None:
        self._server = server
        self._reobserve_on_wake: set[str] = set()
        # registrations whose stored observations are re-made once the 2.01 has left: their
        # Register is a contact too, which must not re-make them at once as well
        self._settling: dict[str, EndpointState] = {}

    def restored(self, state: EndpointState) -> None:
        """A registration came back from the store: its observations died with the process."""
        if state.registration.queue_mode or state.registration.security != "nosec":
            # asleep, or its DTLS session died with the process: wait for it to speak
            self._reobserve_on_wake.add(state.name)
        else:
            self._server.tasks.spawn(self._server.observations.reestablish(state))

    def registered(self, state: EndpointState) -> None:
        """Usable at once: announced now, observations re-made after the 2.01 has left, and
        the inventory queued (or a still valid one reused)."""
        server = self._server
        server.events.emit("endpoint_registered", state.name, state.to_json(server.registry))
        server.inventory.registered(state)
        if server.observations.may_have_stored(state.name):  # else nothing to re-observe
            self._settling[state.name] = state
            server.tasks.spawn(self._after_register(state))

    def updated(self, state: EndpointState, new_objects: list[int]) -> None:
        server = self._server
        server.events.emit("endpoint_updated", state.name, state.to_json(server.registry))
        server.inventory.updated(state, new_objects)
        self.woke(state)

    def unregistered(self, state: EndpointState) -> None:
        self._server.inventory.forget(state.name)
        self._server.observations.drop(state.name)
        self._reobserve_on_wake.discard(state.name)
        self._settled(state)

    def contact(self, state: EndpointState) -> None:
        if (
            self._server.registrations.is_current(state)
            and state.name not in self._reobserve_on_wake
            and state.name not in self._settling
        ):
            self._server.observations.heal_soon(state)

    def woke(self, state: EndpointState) -> None:
        if state.name in self._reobserve_on_wake:
            self._reobserve_on_wake.discard(state.name)
            self._server.tasks.spawn(self._server.observations.reestablish(state))

    async def _after_register(self, state: EndpointState) -> None:
        server = self._server
        try:
            await asyncio.sleep(REGISTER_SETTLE)
            if server.registrations.is_current(state):
                await server.observations.reestablish(state)
        finally:
            self._settled(state)

    def _settled(self, state: EndpointState) -> None:
        """This registration's stored observations are re-made, or it ended first (a newer
        registration of the endpoint keeps its own entry)."""
        if self._settling.get(state.name) is state:
            del self._settling[state.name]
