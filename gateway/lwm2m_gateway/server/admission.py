"""Who may register: the policy for endpoints the gateway does not know, the owner's decisions,
devices waiting for one, and the limits that keep a flood of Registers cheap.

Policies (`unknown_endpoints`): `accept` lets any endpoint in, `reject` refuses unknown ones,
`approve` holds an unknown device's Register as pending (answered, but nothing of it is read,
stored or shown) until the owner approves or rejects it. An endpoint is known when it has
credentials, was approved, or is registered already. Decisions are stored.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ..lwm2m.errors import Forbidden, ServerFull, TooManyRequests
from ..lwm2m.registration import Registration
from ..quiet_log import QuietLog
from .config import ServerConfig
from .events import EventBus
from .persistence import AdmissionStore

_LOGGER = logging.getLogger(__name__)
POLICIES = ("accept", "approve", "reject")
APPROVED, REJECTED = "approved", "rejected"


@dataclass(slots=True)
class Pending:
    """A Register (or a Bootstrap-Request: no registration) held for the owner's decision."""

    endpoint: str
    address: str
    security: str
    registration: Registration | None = None
    remote: Any = None
    since: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        reg = self.registration
        return {
            "endpoint": self.endpoint,
            "address": self.address,
            "security": self.security,
            "lwm2m_version": None if reg is None else reg.lwm2m_version,
            "objects": [] if reg is None else sorted(reg.objects),
            "bootstrap": reg is None,
            "since": self.since,
        }


class _Bucket:
    """A token bucket: `rate` per minute, bursts up to `rate`."""

    __slots__ = ("stamp", "tokens")

    def __init__(self, rate: float) -> None:
        self.tokens, self.stamp = rate, time.monotonic()

    def take(self, rate: float) -> bool:
        now = time.monotonic()
        self.tokens = min(rate, self.tokens + (now - self.stamp) * rate / 60.0)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Admission:
    def __init__(self, config: ServerConfig, store: AdmissionStore, events: EventBus) -> None:
        if config.unknown_endpoints not in POLICIES:
            raise ValueError(f"unknown_endpoints must be one of {', '.join(POLICIES)}")
        self._config = config
        self._store = store
        self._events = events
        self._decisions = store.load_admissions()
        self._pending: OrderedDict[str, Pending] = OrderedDict()
        self._by_registration_id: dict[str, str] = {}
        self._buckets: dict[str, _Bucket] = {}
        self.quiet = QuietLog(_LOGGER)  # refusals, at most one line a minute per key

    @property
    def policy(self) -> str:
        return self._config.unknown_endpoints

    # --- limits ---------------------------------------------------------------------------------

    def limit_rate(self, host: str) -> None:
        """Refuse (4.29) a source that registers faster than register_rate per minute."""
        rate = self._config.register_rate
        if rate <= 0:
            return
        bucket = self._buckets.get(host)
        if bucket is None:
            if len(self._buckets) > 50000:  # a spoofed-source flood: start over, stay bounded
                self._buckets.clear()
            bucket = self._buckets[host] = _Bucket(rate)
        if not bucket.take(rate):
            self.quiet.warn(f"rate:{host}", "Refusing registrations from %s: over %g a minute",
                             host, rate)  # fmt: skip
            raise TooManyRequests(f"more than {rate:g} registrations a minute from {host}")

    def limit_count(self, registered: int, endpoint: str, known: bool) -> None:
        if not known and registered >= self._config.max_endpoints:
            self.quiet.warn("full", "Refusing %s: %d endpoints registered (max_endpoints)",
                             endpoint, registered)  # fmt: skip
            raise ServerFull(f"the gateway holds its maximum of {registered} endpoints")

    # --- decisions --------------------------------------------------------------------------------

    def decision(self, endpoint: str) -> str | None:
        return self._decisions.get(endpoint)

    def admits(self, endpoint: str, known: bool) -> bool:
        """True to register now, False to hold as pending; Forbidden to refuse."""
        decision = self._decisions.get(endpoint)
        if decision == REJECTED:
            raise Forbidden(f"{endpoint} was rejected by the gateway's owner", endpoint=endpoint)
        if known or decision == APPROVED or self.policy == "accept":
            return True
        if self.policy == "reject":
            raise Forbidden(f"{endpoint} is not known to this gateway", endpoint=endpoint)
        return False

    def hold(self, registration: Registration, remote: Any) -> None:
        """Keep a Register for the owner's decision (bounded: the oldest is dropped)."""
        self._hold(
            Pending(registration.endpoint, registration.address, registration.security,
                    registration, remote)
        )  # fmt: skip

    def hold_bootstrap(self, endpoint: str, address: str, identity: str | None) -> None:
        """Keep a Bootstrap-Request's device waiting for the owner's decision."""
        self._hold(Pending(endpoint, address, "nosec" if identity is None else "psk"))

    def _hold(self, pending: Pending) -> None:
        name = pending.endpoint
        self.drop_pending(name)
        while len(self._pending) >= self._config.max_pending:
            self.drop_pending(next(iter(self._pending)))
        self._pending[name] = pending
        if pending.registration is not None:
            self._by_registration_id[pending.registration.registration_id] = name
        self.quiet.warn(f"pending:{name}", "%s (%s) waits for approval", name, pending.address)
        self._events.emit("endpoint_pending", name, pending.to_json())

    def pending(self) -> list[dict[str, Any]]:
        return [p.to_json() for p in self._pending.values()]

    def pending_by_registration_id(self, registration_id: str) -> Pending | None:
        name = self._by_registration_id.get(registration_id)
        return None if name is None else self._pending.get(name)

    def drop_pending(self, endpoint: str) -> Pending | None:
        pending = self._pending.pop(endpoint, None)
        if pending is not None and pending.registration is not None:
            self._by_registration_id.pop(pending.registration.registration_id, None)
        return pending

    def approve(self, endpoint: str) -> Pending | None:
        """Remember the approval; returns the pending Register to adopt, if one waits."""
        self._store.save_admission(endpoint, APPROVED)
        self._decisions[endpoint] = APPROVED
        _LOGGER.info("%s approved", endpoint)
        pending = self.drop_pending(endpoint)
        self._events.emit("endpoint_approved", endpoint, {"endpoint": endpoint})
        return pending

    def reject(self, endpoint: str) -> None:
        self._store.save_admission(endpoint, REJECTED)
        self._decisions[endpoint] = REJECTED
        self.drop_pending(endpoint)
        _LOGGER.info("%s rejected", endpoint)
        self._events.emit("endpoint_rejected", endpoint, {"endpoint": endpoint})

    def forget(self, endpoint: str) -> None:
        """Clear a decision (credentials given later make the endpoint known anyway)."""
        if self._decisions.pop(endpoint, None) is not None:
            self._store.delete_admission(endpoint)

    def decisions(self) -> dict[str, str]:
        return dict(self._decisions)
