"""The gateway's state as the integration holds it, and the runtime kept in entry.runtime_data."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo

from .batches import BatchStatistics
from .client import CannotConnect, CommandError, GatewayClient, GatewayError, InvalidAuth
from .const import DOMAIN, EVENT_LWM2M, RECONNECT_MAX, RECONNECT_MIN
from .pending import (
    async_resolve_bootstrap_failure,
    async_resolve_pending,
    async_show_bootstrap_failure,
    async_show_pending,
    async_sync_pending,
)

_LOGGER = logging.getLogger(__name__)
DEVICE_RESOURCES = {"/3/0/0", "/3/0/1", "/3/0/2", "/3/0/3", "/3/0/18"}  # the device page's


def reconnect_delay(attempt: int) -> float:
    """Seconds before reconnect attempt number attempt (0 first): doubling from RECONNECT_MIN
    up to RECONNECT_MAX, so entities are back within about that long of the gateway; jittered,
    so the clients of one gateway do not all knock at once."""
    return float(min(RECONNECT_MAX, RECONNECT_MIN * 2**attempt)) * random.uniform(0.75, 1.0)


@dataclass(slots=True)
class ResourceInfo:
    id: int
    name: str | None
    type: str | None
    units: str | None
    operations: str
    multiple: bool
    value: Any
    timestamp: float | None


@dataclass(slots=True)
class InstanceInfo:
    id: int
    resources: dict[int, ResourceInfo] = field(default_factory=dict)


@dataclass(slots=True)
class ObjectInfo:
    id: int
    version: str | None
    name: str | None
    instances: dict[int, InstanceInfo] = field(default_factory=dict)


@dataclass(slots=True)
class EndpointInfo:
    name: str
    online: bool
    asleep: bool
    lwm2m_version: str
    binding: str
    queue_mode: bool
    security: str = "nosec"  # "psk": registered over DTLS with its PSK identity
    reachable: bool = True  # False while requests to it fail with network errors
    objects: dict[int, ObjectInfo] = field(default_factory=dict)
    firmware: dict[str, Any] = field(default_factory=dict)  # {"available": image, "job": job}

    def resource_ids(self) -> set[tuple[int, int, int]]:
        return {
            (obj.id, instance.id, rid)
            for obj in self.objects.values()
            for instance in obj.instances.values()
            for rid in instance.resources
        }

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> EndpointInfo:
        objects = {}
        for obj in data.get("objects", []):
            info = ObjectInfo(obj["id"], obj.get("version"), obj.get("name"))
            for inst in obj.get("instances", []):
                instance = InstanceInfo(inst["id"])
                for res in inst.get("resources", []):
                    instance.resources[res["id"]] = ResourceInfo(
                        id=res["id"],
                        name=res.get("name"),
                        type=res.get("type"),
                        units=res.get("units"),
                        operations=res.get("operations") or "",
                        multiple=bool(res.get("multiple")),
                        value=res.get("value"),
                        timestamp=res.get("timestamp"),
                    )
                info.instances[instance.id] = instance
            objects[info.id] = info
        return cls(
            name=data["endpoint"],
            online=bool(data.get("online", True)),
            asleep=bool(data.get("asleep", False)),
            lwm2m_version=str(data.get("lwm2m_version", "1.0")),
            binding=str(data.get("binding", "U")),
            queue_mode=bool(data.get("queue_mode", False)),
            security=str(data.get("security", "nosec")),
            reachable=bool(data.get("reachable", True)),
            objects=objects,
            firmware=dict(data.get("firmware") or {}),
        )

    @property
    def available(self) -> bool:
        """Registered and reachable: a queue-mode device that is asleep is still there, just
        quiet; one the gateway cannot reach (it stopped listening) is not, until it speaks."""
        return self.online and self.reachable

    def resource(self, object_id: int, instance_id: int, resource_id: int) -> ResourceInfo | None:
        obj = self.objects.get(object_id)
        instance = obj.instances.get(instance_id) if obj else None
        return instance.resources.get(resource_id) if instance else None

    def value(self, path: str) -> Any:
        ids = [int(part) for part in path.strip("/").split("/")]
        found = self.resource(*ids[:3]) if len(ids) >= 3 else None
        return None if found is None else found.value

    def set_value(self, path: str, value: Any, timestamp: float | None) -> None:
        ids = [int(part) for part in path.strip("/").split("/")]
        if len(ids) < 3:
            return
        oid, iid, rid = ids[:3]
        obj = self.objects.setdefault(oid, ObjectInfo(oid, None, None))
        instance = obj.instances.setdefault(iid, InstanceInfo(iid))
        resource = instance.resources.get(rid)
        if resource is None:
            resource = instance.resources[rid] = ResourceInfo(
                rid, None, None, None, "R", False, None, None
            )
        if len(ids) == 4:  # a single resource instance
            merged = dict(resource.value) if isinstance(resource.value, dict) else {}
            merged[str(ids[3])] = value
            value = merged
        resource.value = value
        resource.timestamp = timestamp

    def _device_text(self, resource_id: int) -> str | None:
        value = self.value(f"/3/0/{resource_id}")
        return None if value in (None, "") else str(value)

    @property
    def manufacturer(self) -> str | None:
        return self._device_text(0)

    @property
    def model(self) -> str | None:
        return self._device_text(1)

    @property
    def serial_number(self) -> str | None:
        return self._device_text(2)

    @property
    def firmware_version(self) -> str | None:
        return self._device_text(3)

    @property
    def hardware_version(self) -> str | None:
        return self._device_text(18)

    def device_details(self) -> DeviceInfo:
        """What the device page shows from object 3, as device registry fields (None where the
        device has not reported it)."""
        return DeviceInfo(
            manufacturer=self.manufacturer,
            model=self.model,
            serial_number=self.serial_number,
            sw_version=self.firmware_version,
            hw_version=self.hardware_version,
        )


class GatewayState:
    """Endpoints and connection state; entities subscribe per endpoint, platforms to new ones."""

    def __init__(self, gateway_id: str, gateway_version: str) -> None:
        self.gateway_id = gateway_id
        self.gateway_version = gateway_version
        self.endpoints: dict[str, EndpointInfo] = {}
        self.connected = True
        # the path whose notification listeners are being told of, None for a change of the
        # endpoint as a whole (registration, resynchronisation): a push button counts presses
        # only from the former
        self.changing_path: str | None = None
        self._endpoint_listeners: dict[str, list[Callable[[], None]]] = {}
        self._instance_listeners: dict[tuple[str, str], list[Callable[[], None]]] = {}
        self._new_listeners: list[Callable[[EndpointInfo], None]] = []

    @callback
    def async_subscribe_endpoint(
        self, endpoint: str, cb: Callable[[], None], instance_path: str | None = None
    ) -> Callable[[], None]:
        """cb runs when the endpoint changes as a whole (availability, registration), and, with
        instance_path ("/3303/0"), when a value of that object instance changes: a notification
        then wakes only the entities it concerns, not every entity of the device."""
        self._endpoint_listeners.setdefault(endpoint, []).append(cb)
        key = (endpoint, instance_path or "")
        if instance_path is not None:
            self._instance_listeners.setdefault(key, []).append(cb)

        def unsubscribe() -> None:
            self._endpoint_listeners.get(endpoint, []).remove(cb)
            if instance_path is not None:
                self._instance_listeners.get(key, []).remove(cb)

        return unsubscribe

    @callback
    def async_subscribe_new_endpoint(
        self, cb: Callable[[EndpointInfo], None]
    ) -> Callable[[], None]:
        self._new_listeners.append(cb)
        return lambda: self._new_listeners.remove(cb)

    @callback
    def notify(self, endpoint: str) -> None:
        for cb in list(self._endpoint_listeners.get(endpoint, [])):
            cb()

    @callback
    def notify_value(self, endpoint: str, path: str) -> None:
        instance_path = "/" + "/".join(path.strip("/").split("/")[:2])
        self.changing_path = path
        try:
            self.notify_instance(endpoint, instance_path)
        finally:
            self.changing_path = None

    @callback
    def notify_instance(self, endpoint: str, instance_path: str) -> None:
        """Wake the entities of one object instance ("/3347/0")."""
        for cb in list(self._instance_listeners.get((endpoint, instance_path), [])):
            cb()

    @callback
    def notify_all(self) -> None:
        for endpoint in list(self._endpoint_listeners):
            self.notify(endpoint)

    @callback
    def replace(self, data: dict[str, Any]) -> None:
        """A full endpoint object (registered, updated, or from start_listening)."""
        info = EndpointInfo.from_api(data)
        previous = self.endpoints.get(info.name)
        self.endpoints[info.name] = info
        # also for a known endpoint whose resources changed: its inventory (schema 5) or an
        # Update may bring resources that become entities (the platforms add only new ones);
        # a routine Update, which changes none, costs no discovery
        if previous is None or previous.resource_ids() != info.resource_ids():
            for cb in list(self._new_listeners):
                cb(info)
        self.notify(info.name)


@dataclass
class LwM2MRuntime:
    """What a config entry runs: the client, the state, and the reconnect loop."""

    hass: HomeAssistant
    entry: ConfigEntry[Any]
    client: GatewayClient
    state: GatewayState
    observed: set[tuple[str, str]] = field(default_factory=set)  # asked for (or done)
    established: set[tuple[str, str]] = field(default_factory=set)  # answered by the device
    wanted: set[tuple[str, str]] = field(default_factory=set)
    batches: BatchStatistics = field(init=False)
    _reconnect: asyncio.Task[None] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _closing: bool = False

    def __post_init__(self) -> None:
        self.batches = BatchStatistics(self.hass)

    async def async_start(self) -> None:
        """Connect and load the full state (raises CannotConnect, InvalidAuth, SchemaMismatch)."""
        self.client.on_disconnect = self._on_disconnect
        await self.client.connect()
        endpoints = await self.client.start_listening(self._on_event)
        for data in endpoints:
            self.state.replace(data)
            self._sync_device(str(data["endpoint"]))
        self._remove_stale_devices({str(data["endpoint"]) for data in endpoints})
        schema = int((self.client.server_info or {}).get("schema_version", 1))
        if schema >= 3:  # admission arrived with schema 3
            pending = await self.client.command("list_pending")
            async_sync_pending(self.hass, self.entry, list(pending.get("pending", [])))

    async def async_ensure_observed(self, endpoint: str, path: str) -> None:
        """Observe once per connection; the gateway keeps observations across its restarts."""
        self.wanted.add((endpoint, path))
        if (endpoint, path) in self.observed:
            return
        self.observed.add((endpoint, path))
        try:
            first = await self.client.observe(endpoint, path)
        except (CommandError, CannotConnect) as err:
            self.observed.discard((endpoint, path))
            _LOGGER.debug("Cannot observe %s %s yet: %s", endpoint, path, err)
            return
        self.established.add((endpoint, path))
        info = self.state.endpoints.get(endpoint)
        if info is not None:  # the state as the observation starts: no live change
            for record in first:
                info.set_value(
                    str(record.get("path", "")), record.get("value"), record.get("timestamp")
                )
            self.state.notify_instance(endpoint, path)  # only the entities of what was observed

    @callback
    def _on_event(self, event: str, data: dict[str, Any]) -> None:
        endpoint = data.get("endpoint")
        if not isinstance(endpoint, str):
            return
        if event == "endpoint_pending":
            async_show_pending(self.hass, self.entry, data)
            return
        if event in ("endpoint_approved", "endpoint_rejected"):
            async_resolve_pending(self.hass, self.entry, endpoint)
            return
        if event == "bootstrap_failed":
            async_show_bootstrap_failure(self.hass, self.entry, data)
            self._fire("bootstrap_failed", endpoint, data.get("step"))
            return
        if event == "endpoint_bootstrapped":
            async_resolve_bootstrap_failure(self.hass, self.entry, endpoint)
            self._fire("bootstrapped", endpoint)
            return
        info = self.state.endpoints.get(endpoint)
        if event == "resource_changed" and info is not None:
            path = str(data.get("path", ""))
            info.set_value(path, data.get("value"), data.get("timestamp"))
            self.state.notify_value(endpoint, path)
            history = data.get("history")
            if isinstance(history, list) and history:  # a batch: schema 4
                readings = [tuple(r) for r in history if isinstance(r, list) and len(r) == 2]
                readings.append((data.get("timestamp"), data.get("value")))
                self.batches.add(endpoint, path, readings)
            if path in DEVICE_RESOURCES:
                self._sync_device(endpoint)
        elif event in ("endpoint_registered", "endpoint_updated"):
            if event == "endpoint_registered":  # a new registration: observations restart
                self.observed = {o for o in self.observed if o[0] != endpoint}
                self.established = {o for o in self.established if o[0] != endpoint}
            self.state.replace(data)
            self._sync_device(endpoint)
            self._fire(event.removeprefix("endpoint_"), endpoint)
        elif event == "endpoint_inventoried":  # schema 5: what the paced inventory learnt
            self.state.replace(data)
            self._sync_device(endpoint)
        elif event == "endpoint_deregistered" and data.get("reason") == "removed":
            self.state.endpoints.pop(endpoint, None)  # forgotten by the gateway: gone here too
            self._remove_stale_devices(set(self.state.endpoints))
            self._fire("deregistered", endpoint, "removed")
        elif event == "endpoint_deregistered" and info is not None:
            info.online = False
            self.observed = {o for o in self.observed if o[0] != endpoint}
            self.established = {o for o in self.established if o[0] != endpoint}
            self.state.notify(endpoint)
            self._fire("deregistered", endpoint, data.get("reason"))
        elif event in ("firmware_progress", "firmware_result") and info is not None:
            info.firmware["job"] = data
            self.state.notify(endpoint)
        elif event in ("endpoint_unreachable", "endpoint_reachable") and info is not None:
            info.reachable = event == "endpoint_reachable"
            self.state.notify(endpoint)
        elif event in ("endpoint_awake", "endpoint_asleep") and info is not None:
            info.asleep = event == "endpoint_asleep"
            self.state.notify(endpoint)

    @callback
    def _remove_stale_devices(self, known: set[str]) -> None:
        """Devices of endpoints the gateway no longer knows (removed while Home Assistant was
        away, or now) leave the device registry; the gateway's hub stays."""
        devices = dr.async_get(self.hass)
        for device in dr.async_entries_for_config_entry(devices, self.entry.entry_id):
            names = {ident for domain, ident in device.identifiers if domain == DOMAIN}
            if names and not names & ({self.state.gateway_id} | known):
                devices.async_update_device(device.id, remove_config_entry_id=self.entry.entry_id)

    @callback
    def _sync_device(self, endpoint: str) -> None:
        """Keep the device page current: a firmware update changes 3/0/3, and a device may
        report its model or serial only once it has been read."""
        info = self.state.endpoints.get(endpoint)
        devices = dr.async_get(self.hass)
        device = devices.async_get_device(identifiers={(DOMAIN, endpoint)})
        if info is None or device is None:
            return  # its entities create it, from the same values
        reported = info.device_details().items()
        changed = {k: v for k, v in reported if v is not None and getattr(device, k) != v}
        if changed:
            devices.async_update_device(device.id, **changed)  # type: ignore[arg-type]

    def _fire(self, kind: str, endpoint: str, reason: Any = None) -> None:
        payload = {"type": kind, "endpoint": endpoint, "gateway_id": self.state.gateway_id}
        if reason is not None:
            payload["reason"] = reason
        self.hass.bus.async_fire(EVENT_LWM2M, payload)

    @callback
    def _on_disconnect(self) -> None:
        if self._closing:
            return
        _LOGGER.warning("Lost the connection to the LwM2M gateway at %s", self.client.url)
        self.state.connected = False
        self.state.notify_all()
        self.observed.clear()
        self.established.clear()
        self._reconnect = self.entry.async_create_background_task(
            self.hass, self._reconnect_loop(), f"{DOMAIN} reconnect"
        )

    @callback
    def async_reconnect_now(self) -> None:
        """The gateway announced itself (zeroconf): try at once instead of waiting out the
        backoff."""
        self._wake.set()

    async def _reconnect_loop(self) -> None:
        """Back off (reconnect_delay), or wake on an announcement; resynchronise from
        start_listening; log once per outage."""
        attempt = 0
        while not self._closing:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), reconnect_delay(attempt))
            try:
                await self.client.disconnect()
                await self.async_start()
            except InvalidAuth:
                _LOGGER.error("The LwM2M gateway refused the token; re-authenticate")
                self.entry.async_start_reauth(self.hass)
                return
            except GatewayError:
                attempt += 1
                continue
            self.state.connected = True
            _LOGGER.info("Reconnected to the LwM2M gateway at %s", self.client.url)
            self.state.notify_all()
            for endpoint, path in sorted(self.wanted):
                await self.async_ensure_observed(endpoint, path)
            return

    async def async_stop(self) -> None:
        self._closing = True
        if self._reconnect is not None:
            self._reconnect.cancel()
        await self.client.disconnect()


type LwM2MConfigEntry = ConfigEntry[LwM2MRuntime]
