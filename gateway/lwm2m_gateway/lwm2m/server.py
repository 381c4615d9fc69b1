"""The LwM2M server role: one aiocoap context that devices register with and that sends them requests.

`Lwm2mServer` is the facade the API, the demo and the tests use. It owns the registrations
(keyed by endpoint name, never by address, so a device behind NAT may come back from anywhere),
the wake state of queue-mode devices, and the observations, and it persists all of them.
Device management itself (one method per LwM2M operation) lives in `operations.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiocoap
import aiocoap.error
import aiocoap.resource
from aiocoap.numbers.codes import Code

from ..store import Store
from .coap import bound_port
from .codecs import SUPPORTED_FORMATS, decode
from .endpoint_state import EndpointState
from .errors import BadRequest, DeviceTimeout, Lwm2mError, QueueFull, UnknownEndpoint
from .model import ObjectRegistry
from .observations import Observations
from .paths import InvalidPath, Path
from .registration import Registration, apply_update, parse_register
from .values import Record

_LOGGER = logging.getLogger(__name__)
Route = Callable[[aiocoap.Message], Awaitable[aiocoap.Message]]
SKIPPED_OBJECTS = frozenset({0, 21})  # Security and OSCORE are not readable by a server
REGISTER_SETTLE = 0.05  # s to let the 2.01 leave before the first request to a new registration


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One thing that happened, named as the API event it becomes (docs/protocol.md)."""

    name: str
    endpoint: str
    data: Mapping[str, Any] = field(default_factory=dict)


EventListener = Callable[[ServerEvent], None]


@dataclass(slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    coap_port: int = 5683
    request_timeout: float = 30.0  # one request to an awake device
    queue_timeout: float = 300.0  # how long a request waits for a sleeping device to wake
    queue_limit: int = 32  # requests waiting per sleeping device
    awake_time: float = 93.0  # CoAP MAX_TRANSMIT_WAIT: how long a queue-mode device listens
    expiry_grace: float = 2.0  # tolerate an Update arriving just after the lifetime
    initial_read: bool = True


class _Root(aiocoap.resource.Resource, aiocoap.resource.PathCapable):  # type: ignore[misc]
    """Every path the server answers, dispatched on its first segment (rd, dp, and extras)."""

    def __init__(self, server: Lwm2mServer) -> None:
        super().__init__()
        self._server = server

    async def render(self, request: aiocoap.Message) -> aiocoap.Message:
        try:
            return await self._server._route(request)
        except Lwm2mError as err:
            if err.coap_code == Code.INTERNAL_SERVER_ERROR:
                _LOGGER.exception("Error answering %s", request)
            return aiocoap.Message(code=err.coap_code, payload=str(err).encode()[:512])
        except Exception:
            _LOGGER.exception("Unexpected error answering %s", request)
            return aiocoap.Message(code=Code.INTERNAL_SERVER_ERROR)


class Lwm2mServer(Observations):
    """Registration interface (/rd), Send (/dp), device management and observations."""

    def __init__(
        self, *, store: Store, registry: ObjectRegistry, config: ServerConfig | None = None
    ) -> None:
        self.store = store
        self.registry = registry
        self.config = config or ServerConfig()
        self.routes: dict[str, Route] = {}  # extra first path segments, e.g. "fw" for firmware
        self._endpoints: dict[str, EndpointState] = {}
        self._by_registration_id: dict[str, str] = {}
        self._listeners: list[EventListener] = []
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._wakers: dict[str, asyncio.Future[None]] = {}
        self._waiting: dict[str, int] = {}
        self._reobserve_on_wake: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._context: aiocoap.Context | None = None
        self._port = 0
        super().__init__()

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._restore()
        self._context = await aiocoap.Context.create_server_context(
            _Root(self), bind=(self.config.host, self.config.coap_port)
        )
        self._port = bound_port(self._context) or self.config.coap_port
        for name, state in self._endpoints.items():
            if state.registration.queue_mode:
                self._reobserve_on_wake.add(name)
            else:
                self.spawn(self._reestablish_observations(state))

    async def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.cancel_all_observations()
        if self._context is not None:
            await self._context.shutdown()
            self._context = None

    @property
    def coap_port(self) -> int:
        return self._port

    @property
    def context(self) -> aiocoap.Context:
        if self._context is None:
            raise RuntimeError("the server is not started")
        return self._context

    def spawn(self, coroutine: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            if isinstance(error, Lwm2mError):
                _LOGGER.info("Background request failed: %s", error)
            else:
                _LOGGER.error("Background task failed", exc_info=error)

    def _restore(self) -> None:
        now = time.time()
        values = self.store.load_values()
        for name, data in self.store.load_registrations().items():
            try:
                registration = Registration.from_json(data)
            except (TypeError, KeyError, ValueError):
                _LOGGER.warning("Skipping the unreadable stored registration of %s", name)
                continue
            if registration.expires_at <= now:
                self.store.delete_registration(name)
                continue
            state = EndpointState(registration, last_seen=registration.last_update)
            for path_text, (value, stamp) in values.get(name, {}).items():
                with contextlib.suppress(InvalidPath):
                    path = Path.parse(path_text)
                    state.values[path] = (value, stamp)
                    state.resources.add(path)
            self._add(state)
        _LOGGER.info("Restored %d registrations", len(self._endpoints))

    # --- events ----------------------------------------------------------------------------------

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

    def emit_changes(self, state: EndpointState, paths: Sequence[Path]) -> None:
        if not paths:
            return
        self.store.save_values(state.name, [(str(path), *state.values[path]) for path in paths])
        for path in paths:
            value, stamp = state.values[path]
            self.emit(
                "resource_changed",
                state.name,
                {"endpoint": state.name, "path": str(path), "value": value, "timestamp": stamp},
            )

    def apply_records(self, state: EndpointState, records: Sequence[Record]) -> None:
        self.emit_changes(state, state.apply(records))

    # --- endpoints -------------------------------------------------------------------------------

    def endpoint_names(self) -> list[str]:
        return sorted(self._endpoints)

    def state(self, endpoint: str) -> EndpointState:
        try:
            return self._endpoints[endpoint]
        except KeyError:
            raise UnknownEndpoint(f"no endpoint {endpoint!r}", endpoint=endpoint) from None

    def endpoint_at(self, address: str) -> EndpointState | None:
        """The registered endpoint whose last known address is host:port (Send, firmware)."""
        return next(
            (s for s in self._endpoints.values() if s.registration.address == address), None
        )

    def endpoint_state(self, endpoint: str) -> dict[str, Any]:
        return self.state(endpoint).to_json(self.registry)

    def _add(self, state: EndpointState) -> None:
        self._endpoints[state.name] = state
        self._by_registration_id[state.registration.registration_id] = state.name
        self._schedule(state.name, "expire", state.registration.expires_at, self._expire)

    def _drop(self, name: str) -> EndpointState | None:
        state = self._endpoints.pop(name, None)
        if state is None:
            return None
        state.online = False
        self._by_registration_id.pop(state.registration.registration_id, None)
        for kind in ("expire", "sleep"):
            if (handle := self._timers.pop((name, kind), None)) is not None:
                handle.cancel()
        if (waker := self._wakers.pop(name, None)) is not None and not waker.done():
            waker.set_exception(DeviceTimeout(f"{name} is gone", endpoint=name))
            waker.exception()  # retrieved: only waiters care
        self.cancel_observations(name)
        return state

    async def remove_endpoint(self, endpoint: str) -> None:
        self.state(endpoint)
        self._drop(endpoint)
        self.store.delete_endpoint(endpoint)
        self._reobserve_on_wake.discard(endpoint)
        self.emit("endpoint_deregistered", endpoint, {"endpoint": endpoint, "reason": "removed"})

    def _schedule(self, name: str, kind: str, when: float, callback: Callable[[str], None]) -> None:
        if (old := self._timers.pop((name, kind), None)) is not None:
            old.cancel()
        delay = max(0.0, when - time.time())
        loop = asyncio.get_running_loop()
        self._timers[(name, kind)] = loop.call_later(delay, callback, name)

    def _expire(self, name: str) -> None:
        self._timers.pop((name, "expire"), None)
        state = self._endpoints.get(name)
        if state is None:
            return
        if time.time() < state.registration.expires_at + self.config.expiry_grace:
            self._schedule(
                name, "expire", state.registration.expires_at + self.config.expiry_grace,
                self._expire,
            )  # fmt: skip
            return
        _LOGGER.info("Registration of %s expired", name)
        self._drop(name)
        self.store.delete_registration(name)
        self.emit("endpoint_deregistered", name, {"endpoint": name, "reason": "expired"})

    # --- queue mode (LwM2M 1.1 core §6.5) ----------------------------------------------------------

    def touch(self, state: EndpointState) -> None:
        """The device just spoke: it is awake for awake_time (queue mode), and was seen now."""
        now = time.time()
        state.last_seen = now
        if not state.registration.queue_mode:
            return
        was_asleep = state.asleep
        state.awake_until = now + self.config.awake_time
        self._schedule(state.name, "sleep", state.awake_until, self._fall_asleep)
        if was_asleep:
            self.emit("endpoint_awake", state.name, {"endpoint": state.name})
            if (waker := self._wakers.pop(state.name, None)) is not None and not waker.done():
                waker.set_result(None)
            if state.name in self._reobserve_on_wake:
                self._reobserve_on_wake.discard(state.name)
                self.spawn(self._reestablish_observations(state))

    def _fall_asleep(self, name: str) -> None:
        self._timers.pop((name, "sleep"), None)
        state = self._endpoints.get(name)
        if state is not None and state.asleep:
            self.emit("endpoint_asleep", name, {"endpoint": name})

    async def wait_awake(self, state: EndpointState) -> None:
        """Hold a request until a queue-mode device wakes (bounded count, bounded time)."""
        if not state.asleep:
            return
        name = state.name
        if self._waiting.get(name, 0) >= self.config.queue_limit:
            raise QueueFull(
                f"{self.config.queue_limit} requests already wait for {name} to wake",
                endpoint=name,
            )
        waker = self._wakers.get(name)
        if waker is None or waker.done():
            waker = self._wakers[name] = asyncio.get_running_loop().create_future()
        self._waiting[name] = self._waiting.get(name, 0) + 1
        try:
            await asyncio.wait_for(asyncio.shield(waker), self.config.queue_timeout)
        except TimeoutError:
            raise DeviceTimeout(
                f"{name} stayed asleep for {self.config.queue_timeout:g} s", endpoint=name
            ) from None
        finally:
            self._waiting[name] -= 1

    # --- the CoAP side -----------------------------------------------------------------------------

    async def _route(self, request: aiocoap.Message) -> aiocoap.Message:
        path = tuple(request.opt.uri_path)
        code = request.code
        if path == ("rd",) and code == Code.POST:
            return self._register(request)
        if len(path) == 2 and path[0] == "rd":
            if code == Code.POST:
                return self._update(request, path[1])
            if code == Code.DELETE:
                return self._deregister(path[1])
            return aiocoap.Message(code=Code.METHOD_NOT_ALLOWED)
        if path == ("dp",):
            if code != Code.POST:
                return aiocoap.Message(code=Code.METHOD_NOT_ALLOWED)
            return self._send(request)
        if path and path[0] in self.routes:
            return await self.routes[path[0]](request)
        return aiocoap.Message(code=Code.NOT_FOUND, payload=b"no such resource")

    def _register(self, request: aiocoap.Message) -> aiocoap.Message:
        if request.opt.content_format not in (None, 40):
            raise BadRequest("Register payload must be link format (content format 40)")
        registration = parse_register(
            request.opt.uri_query, request.payload, request.remote.hostinfo
        )
        name = registration.endpoint
        previous = self._drop(name)
        state = EndpointState(registration)
        if previous is not None:
            state.values = previous.values  # kept until the inventory refreshes them
            state.resources = previous.resources
        self._add(state)
        self.store.save_registration(name, registration.to_json())
        self.touch(state)
        _LOGGER.info(
            "Registered %s (lwm2m %s, b=%s, lt=%d) from %s",
            name, registration.lwm2m_version, registration.binding, registration.lifetime,
            registration.address,
        )  # fmt: skip
        self.spawn(self._after_register(state))
        return aiocoap.Message(
            code=Code.CREATED, location_path=("rd", registration.registration_id)
        )

    async def _after_register(self, state: EndpointState) -> None:
        await asyncio.sleep(REGISTER_SETTLE)
        if self.config.initial_read:
            await self.inventory(state, sorted(state.registration.objects))
        if self._endpoints.get(state.name) is state:
            self.emit("endpoint_registered", state.name, state.to_json(self.registry))
            await self._reestablish_observations(state)

    def _update(self, request: aiocoap.Message, registration_id: str) -> aiocoap.Message:
        name = self._by_registration_id.get(registration_id)
        if name is None:
            return aiocoap.Message(code=Code.NOT_FOUND, payload=b"unknown registration")
        if request.payload and request.opt.content_format not in (None, 40):
            raise BadRequest("Update payload must be link format (content format 40)")
        state = self._endpoints[name]
        before = set(state.registration.objects)
        changed = apply_update(
            state.registration, request.opt.uri_query, request.payload, request.remote.hostinfo
        )
        self.store.save_registration(name, state.registration.to_json())
        self._schedule(name, "expire", state.registration.expires_at, self._expire)
        self.touch(state)
        self.spawn(self._after_update(state, sorted(set(state.registration.objects) - before)))
        if changed:
            _LOGGER.info("%s updated its objects", name)
        return aiocoap.Message(code=Code.CHANGED)

    async def _after_update(self, state: EndpointState, new_objects: list[int]) -> None:
        if new_objects and self.config.initial_read:
            await asyncio.sleep(REGISTER_SETTLE)
            await self.inventory(state, new_objects)
        if self._endpoints.get(state.name) is state:
            self.emit("endpoint_updated", state.name, state.to_json(self.registry))

    def _deregister(self, registration_id: str) -> aiocoap.Message:
        name = self._by_registration_id.get(registration_id)
        if name is None:
            return aiocoap.Message(code=Code.NOT_FOUND, payload=b"unknown registration")
        self._drop(name)
        self.store.delete_registration(name)
        _LOGGER.info("%s de-registered", name)
        self.emit("endpoint_deregistered", name, {"endpoint": name, "reason": "deregistered"})
        return aiocoap.Message(code=Code.DELETED)

    def _send(self, request: aiocoap.Message) -> aiocoap.Message:
        """LwM2M Send (1.1 core §6.4.6): values pushed by a registered device to /dp."""
        state = self.endpoint_at(request.remote.hostinfo)
        if state is None:
            return aiocoap.Message(code=Code.FORBIDDEN, payload=b"not registered from here")
        fmt = request.opt.content_format
        if fmt is None or fmt not in SUPPORTED_FORMATS:
            raise BadRequest(f"Send needs a SenML or LwM2M CBOR content format, got {fmt}")
        types = self.registry.type_resolver(state.registration.object_versions())
        records = decode(request.payload, fmt, Path(), types)
        self.touch(state)
        self.apply_records(state, records)
        return aiocoap.Message(code=Code.CHANGED)


__all__ = ["EventListener", "Lwm2mServer", "ServerConfig", "ServerEvent"]
