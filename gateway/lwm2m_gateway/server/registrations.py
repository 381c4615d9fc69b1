"""The registration interface (LwM2M 1.1 core §6.2): the endpoint registry and its lifetimes.

Endpoints are keyed by name, never by address, so a device behind NAT may come back from
anywhere. A Register or Update is validated completely and stored before memory changes.
What happens after a registration (inventory, re-observing) belongs to other roles, which
listen here.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any, Protocol

import aiocoap
from aiocoap.numbers.codes import Code

from ..coap import host_of
from ..lwm2m.errors import BadRequest, Forbidden, StorageUnavailable, UnknownEndpoint
from ..lwm2m.model import ObjectRegistry
from ..lwm2m.paths import InvalidPath, Path
from ..lwm2m.registration import Registration, parse_register, updated_registration
from ..quiet_log import BurstLog
from .admission import Admission
from .config import ServerConfig
from .dtls import identity_of
from .endpoint import EndpointState
from .events import EventBus
from .persistence import PersistenceError, RegistrationStore
from .presence import Presence
from .security import Security
from .tasks import Timers

_LOGGER = logging.getLogger(__name__)
LINK_FORMAT = 40


class RegistrationListener(Protocol):
    def registered(self, state: EndpointState) -> None:
        """A Register was accepted (also when it replaces an earlier registration)."""

    def updated(self, state: EndpointState, new_objects: list[int]) -> None:
        """An Update was accepted; new_objects are the object ids it announced first."""

    def unregistered(self, state: EndpointState) -> None:
        """The registration ended: De-register, expiry, removal, or replaced by a Register."""


class Registrations:
    def __init__(
        self,
        config: ServerConfig,
        *,
        store: RegistrationStore,
        events: EventBus,
        presence: Presence,
        registry: ObjectRegistry,
        security: Security,
        admission: Admission,
    ) -> None:
        self._config = config
        self._store = store
        self._events = events
        self._presence = presence
        self._registry = registry
        self._security = security
        self._admission = admission
        self._endpoints: dict[str, EndpointState] = {}
        self._by_registration_id: dict[str, str] = {}
        self._timers = Timers()
        self._listeners: list[RegistrationListener] = []
        # a storm of 10,000 Registers is not 10,000 lines (a line each was a tenth of the CPU)
        self._registered_log = BurstLog(_LOGGER)
        self._moved_log = BurstLog(_LOGGER, level=logging.WARNING)

    def add_listener(self, listener: RegistrationListener) -> None:
        self._listeners.append(listener)

    # --- the registry ------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._endpoints)

    def states(self) -> list[EndpointState]:
        return list(self._endpoints.values())

    def get(self, endpoint: str) -> EndpointState:
        try:
            return self._endpoints[endpoint]
        except KeyError:
            raise UnknownEndpoint(f"no endpoint {endpoint!r}", endpoint=endpoint) from None

    def is_current(self, state: EndpointState) -> bool:
        """Whether state is still the live registration of its endpoint."""
        return self._endpoints.get(state.name) is state

    def sender(self, remote: Any) -> EndpointState | None:
        """The registered endpoint a request came from: by its DTLS session (or identity), or
        for plain CoAP by its last known address. Only ever an endpoint that remote may speak
        for (Send, firmware downloads)."""
        identity = identity_of(remote)
        if identity is not None:
            found = next(
                (s for s in self._endpoints.values() if s.registration.identity == identity), None
            )
        else:
            address = remote.hostinfo
            found = next(
                (
                    s
                    for s in self._endpoints.values()
                    if s.registration.address == address and s.registration.security == "nosec"
                ),
                None,
            )
        if found is None:
            return None
        try:
            self._security.check(found.name, remote)
        except Forbidden:
            return None
        return found

    def describe(self, endpoint: str) -> dict[str, Any]:
        """The endpoint object of the API (docs/protocol.md)."""
        return self.get(endpoint).to_json(self._registry)

    def save(self, state: EndpointState) -> None:
        """Store a registration another role changed (Create and Delete change instances)."""
        self._store.save_registration(state.name, state.registration.to_json())

    def restore(self, values: dict[str, dict[str, tuple[Any, float]]]) -> None:
        """Load the stored registrations still within their lifetime, with their last values."""
        now = time.time()
        for name, data in self._store.load_registrations().items():
            try:
                registration = Registration.from_json(data)
            except (TypeError, KeyError, ValueError):
                _LOGGER.warning("Skipping the unreadable stored registration of %s", name)
                continue
            if registration.expires_at <= now:
                self._store.delete_registration(name)
                continue
            state = EndpointState(registration, last_seen=registration.last_update)
            for path_text, (value, stamp) in values.get(name, {}).items():
                with contextlib.suppress(InvalidPath):
                    path = Path.parse(path_text)
                    state.values[path] = (value, stamp)
                    state.resources.add(path)
            self._add(state)
        _LOGGER.info("Restored %d registrations", len(self._endpoints))

    def remove(self, endpoint: str) -> None:
        """Forget an endpoint entirely: registration, observations and values."""
        self.get(endpoint)
        self._store.delete_endpoint(endpoint)
        self._drop(endpoint)
        self._events.emit(
            "endpoint_deregistered", endpoint, {"endpoint": endpoint, "reason": "removed"}
        )

    def stop(self) -> None:
        self._timers.cancel_all()

    def _add(self, state: EndpointState) -> None:
        self._endpoints[state.name] = state
        self._by_registration_id[state.registration.registration_id] = state.name
        self._expire_at(state, state.registration.expires_at)

    def _drop(self, name: str) -> EndpointState | None:
        state = self._endpoints.pop(name, None)
        if state is None:
            return None
        state.online = False
        self._by_registration_id.pop(state.registration.registration_id, None)
        self._timers.cancel(name)
        self._presence.forget(name)
        for listener in list(self._listeners):
            listener.unregistered(state)
        return state

    def _expire_at(self, state: EndpointState, when: float) -> None:
        self._timers.set(state.name, when, self._expire, state)

    def _expire(self, state: EndpointState) -> None:
        if not self.is_current(state):
            return
        deadline = state.registration.expires_at + self._config.expiry_grace
        if time.time() < deadline:
            self._expire_at(state, deadline)
            return
        _LOGGER.info("Registration of %s expired", state.name)
        self._store.delete_registration(state.name)
        self._drop(state.name)
        self._events.emit(
            "endpoint_deregistered", state.name, {"endpoint": state.name, "reason": "expired"}
        )

    # --- the CoAP side -------------------------------------------------------------------------------

    async def handle(self, request: aiocoap.Message) -> aiocoap.Message:
        """Everything under /rd: Register, Update, De-register."""
        path = request.opt.uri_path
        if len(path) == 1 and request.code == Code.POST:
            return self._register(request)
        if len(path) == 2:
            if request.code == Code.POST:
                return self._update(request, path[1])
            if request.code == Code.DELETE:
                return self._deregister(request, path[1])
            return aiocoap.Message(code=Code.METHOD_NOT_ALLOWED)
        return aiocoap.Message(code=Code.NOT_FOUND, payload=b"no such resource")

    def _register(self, request: aiocoap.Message) -> aiocoap.Message:
        if request.opt.content_format not in (None, LINK_FORMAT):
            raise BadRequest("Register payload must be link format (content format 40)")
        remote = request.remote
        hostinfo = remote.hostinfo  # aiocoap works it out anew on every call
        self._admission.limit_rate(host_of(hostinfo))
        registration = parse_register(request.opt.uri_query, request.payload, hostinfo)
        name = registration.endpoint
        self._authorize(name, remote)
        identity = identity_of(remote)
        if identity is not None:
            registration.security, registration.identity = "psk", identity
        known = name in self._endpoints or self._security.credential(name) is not None
        self._admission.limit_count(len(self._endpoints), name, known)
        if not self._admission.admits(name, known):
            self._admission.hold(registration, remote)
            return aiocoap.Message(
                code=Code.CREATED, location_path=("rd", registration.registration_id)
            )
        previous = self._endpoints.get(name)
        if previous is not None and previous.registration.address != registration.address:
            self._moved_log.log(
                "devices registering again from another address",
                "%s registered again from %s (was %s, %s)", name, registration.address,
                previous.registration.address, registration.security,
            )  # fmt: skip
        self._admit(registration, remote)
        return aiocoap.Message(
            code=Code.CREATED, location_path=("rd", registration.registration_id)
        )

    def _save(self, registration: Registration) -> None:
        """Store first: memory changes only once the registration is on disk."""
        try:
            self._store.save_registration(registration.endpoint, registration.to_json())
        except PersistenceError as err:
            raise StorageUnavailable(
                f"cannot store the registration of {registration.endpoint}: {err}",
                endpoint=registration.endpoint,
            ) from err

    def _authorize(self, name: str, remote: Any) -> None:
        try:
            self._security.check(name, remote)
        except Forbidden as err:
            self._admission.quiet.warn(f"forbidden:{name}", "Refused %s from %s: %s", name,
                                        remote.hostinfo, err)  # fmt: skip
            raise

    def _admit(self, registration: Registration, remote: Any) -> EndpointState:
        """Make a validated, authorised registration live: stored first, then in memory."""
        name = registration.endpoint
        self._save(registration)
        self._admission.drop_pending(name)
        previous = self._drop(name)
        state = EndpointState(registration)
        state.remote = remote
        if previous is not None:
            state.values = previous.values  # kept until the inventory refreshes them
            state.resources = previous.resources
        self._add(state)
        self._registered_log.log(
            "registrations",
            "Registered %s (lwm2m %s, b=%s, lt=%d, %s) from %s",
            name, registration.lwm2m_version, registration.binding, registration.lifetime,
            registration.security, registration.address,
        )  # fmt: skip
        for listener in list(self._listeners):
            listener.registered(state)
        self._presence.touch(state)  # a contact, once the listeners know the registration
        return state

    def approve(self, endpoint: str) -> bool:
        """The owner lets an endpoint in; a device waiting with a Register becomes a normal
        endpoint without registering again. Returns whether one was waiting."""
        pending = self._admission.approve(endpoint)
        if pending is None or pending.registration is None:
            return False  # a waiting bootstrap is provisioned by the bootstrap server
        self._admit(pending.registration, pending.remote)
        return True

    def reject(self, endpoint: str) -> None:
        """The owner keeps an endpoint out, now and later (until approved)."""
        self._admission.reject(endpoint)
        if endpoint in self._endpoints:
            self._store.delete_endpoint(endpoint)
            self._drop(endpoint)
            self._events.emit(
                "endpoint_deregistered", endpoint, {"endpoint": endpoint, "reason": "rejected"}
            )

    def _update(self, request: aiocoap.Message, registration_id: str) -> aiocoap.Message:
        name = self._by_registration_id.get(registration_id)
        if request.payload and request.opt.content_format not in (None, LINK_FORMAT):
            raise BadRequest("Update payload must be link format (content format 40)")
        if name is None:
            return self._update_pending(request, registration_id)
        self._authorize(name, request.remote)
        state = self._endpoints[name]
        registration, changed = updated_registration(
            state.registration, request.opt.uri_query, request.payload, request.remote.hostinfo
        )
        self._save(registration)
        new_objects = sorted(set(registration.objects) - set(state.registration.objects))
        state.registration = registration
        state.remote = request.remote  # the device may have moved, or opened a new session
        self._expire_at(state, registration.expires_at)
        self._presence.touch(state)
        if changed:
            _LOGGER.info("%s updated its objects", name)
        for listener in list(self._listeners):
            listener.updated(state, new_objects)
        return aiocoap.Message(code=Code.CHANGED)

    def _update_pending(self, request: aiocoap.Message, registration_id: str) -> aiocoap.Message:
        """A device waiting for approval keeps its pending Register fresh."""
        pending = self._admission.pending_by_registration_id(registration_id)
        if pending is None:
            return aiocoap.Message(code=Code.NOT_FOUND, payload=b"unknown registration")
        assert pending.registration is not None  # found by its registration id
        self._authorize(pending.endpoint, request.remote)
        pending.registration, _ = updated_registration(
            pending.registration, request.opt.uri_query, request.payload, request.remote.hostinfo
        )
        pending.remote = request.remote
        return aiocoap.Message(code=Code.CHANGED)

    def _deregister(self, request: aiocoap.Message, registration_id: str) -> aiocoap.Message:
        name = self._by_registration_id.get(registration_id)
        if name is None:
            pending = self._admission.pending_by_registration_id(registration_id)
            if pending is None:
                return aiocoap.Message(code=Code.NOT_FOUND, payload=b"unknown registration")
            self._authorize(pending.endpoint, request.remote)
            self._admission.drop_pending(pending.endpoint)
            return aiocoap.Message(code=Code.DELETED)
        self._authorize(name, request.remote)
        self._store.delete_registration(name)
        self._drop(name)
        _LOGGER.info("%s de-registered", name)
        self._events.emit(
            "endpoint_deregistered", name, {"endpoint": name, "reason": "deregistered"}
        )
        return aiocoap.Message(code=Code.DELETED)
