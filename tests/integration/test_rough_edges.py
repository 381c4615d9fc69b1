"""Bugs seen in a real Home Assistant UI, each proven fixed against a real gateway."""

from __future__ import annotations

import json
from datetime import datetime
from ipaddress import ip_address
from pathlib import Path as FilePath

import pytest
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.components.update import UpdateEntityFeature
from homeassistant.const import ATTR_ENTITY_ID, ATTR_SUPPORTED_FEATURES, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import EventStateChangedData, async_track_state_change_event
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from custom_components.lwm2m import models
from custom_components.lwm2m.const import DOMAIN
from lwm2m_gateway.app import Gateway
from lwm2m_gateway.lwm2m.paths import Path
from tests.integration.conftest import (
    DeviceFactory,
    EntryFactory,
    entity_id,
    start_gateway,
    until,
    wait_registered,
)

LOOPBACK = ip_address("127.0.0.1")
PAYLOAD = bytes(range(256)) * 16
INTEGRATION = FilePath(__file__).parents[2] / "custom_components" / "lwm2m"


async def offer(
    hass: HomeAssistant, tmp_path: FilePath, endpoint: str, version: str, notes: str | None = None
) -> str:
    """Upload an image for endpoint through the integration's service; its update entity."""
    path = tmp_path / f"{endpoint}-{version}.bin"
    path.write_bytes(f"FW {version}\n".encode() + PAYLOAD)  # the simulator reads the version
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    data = {"endpoint": endpoint, "file": str(path), "version": version}
    await hass.services.async_call(
        DOMAIN, "upload_firmware", data | ({"release_notes": notes} if notes else {}), blocking=True
    )
    update = entity_id(hass, "update", f"{endpoint}/5/0/3")
    await until(lambda: hass.states.get(update).attributes["latest_version"] == version, hass)  # type: ignore[union-attr]
    return update


async def test_installing_firmware_a_second_time_reports_the_new_jobs_result(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
    tmp_path: FilePath,
) -> None:
    device = await make_device("twice")
    await wait_registered(gateway, "twice")
    await setup_entry(gateway)
    for version in ("2.0.0", "3.0.0"):
        update = await offer(hass, tmp_path, "twice", version)
        # the earlier job's "succeeded" is still known when this one starts
        await hass.services.async_call("update", "install", {ATTR_ENTITY_ID: update}, blocking=True)
        assert device.value("/3/0/3") == version


async def test_release_notes_are_offered_only_when_the_image_has_them(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
    tmp_path: FilePath,
) -> None:
    await make_device("notes")
    await wait_registered(gateway, "notes")
    await setup_entry(gateway)

    def features(update: str) -> int:
        return int(hass.states.get(update).attributes[ATTR_SUPPORTED_FEATURES])  # type: ignore[union-attr]

    update = await offer(hass, tmp_path, "notes", "2.0.0")
    assert not features(update) & UpdateEntityFeature.RELEASE_NOTES  # the dialog spun forever
    update = await offer(hass, tmp_path, "notes", "2.1.0", notes="Fixes the radio")
    assert features(update) & UpdateEntityFeature.RELEASE_NOTES


async def test_the_device_page_follows_object_3_after_a_firmware_update(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
    tmp_path: FilePath,
) -> None:
    await make_device("page")
    await wait_registered(gateway, "page")
    await setup_entry(gateway)
    devices = dr.async_get(hass)
    assert devices.async_get_device(identifiers={(DOMAIN, "page")}).sw_version == "1.0.0"  # type: ignore[union-attr]
    update = await offer(hass, tmp_path, "page", "2.0.0")
    await hass.services.async_call("update", "install", {ATTR_ENTITY_ID: update}, blocking=True)
    await until(
        lambda: devices.async_get_device(identifiers={(DOMAIN, "page")}).sw_version == "2.0.0",  # type: ignore[union-attr]
        hass,
    )


async def test_a_push_button_fires_only_for_presses_it_saw_happen(
    hass: HomeAssistant,
    loopback: None,
    tmp_path: FilePath,
    setup_entry: EntryFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lwm2m_gateway.simulator import SimulatedDevice

    gateway = await start_gateway(tmp_path / "g")
    device = SimulatedDevice(
        "button", f"coap://127.0.0.1:{gateway.server.coap_port}", auto_update=False,
        values={Path(3347, 0, 5501): 3, Path(3347, 0, 5500): False},
    )  # fmt: skip
    await device.start()
    restarted: Gateway | None = None
    try:
        await wait_registered(gateway, "button")
        device.set_value("/3347/0/5501", 7)  # pressed while Home Assistant was not looking
        entry = await setup_entry(gateway)
        button = entity_id(hass, "event", "button/3347/0/5501")
        presses: list[int] = []
        seen: set[str] = set()  # an event entity's state is the time of its last event

        @callback
        def record(event: Event[EventStateChangedData]) -> None:
            new = event.data["new_state"]
            if new is not None and new.state not in ("unknown", STATE_UNAVAILABLE, *seen):
                seen.add(new.state)
                presses.append(new.attributes["count"])

        async_track_state_change_event(hass, [button], record)
        entity = hass.data["entity_components"]["event"].get_entity(button)
        await until(lambda: entity.armed, hass)  # the observation stands
        device.set_value("/3347/0/5501", 8)  # a press it sees
        await until(lambda: 8 in presses, hass)
        assert presses == [8]

        # the gateway restarts; the counter goes on while Home Assistant is cut off
        coap_port, api_port = gateway.server.coap_port, gateway.api.port
        await gateway.stop()
        await until(lambda: hass.states.get(button).state == STATE_UNAVAILABLE, hass)  # type: ignore[union-attr]
        restarted = await start_gateway(tmp_path / "g", coap_port=coap_port, api_port=api_port)
        device.set_value("/3347/0/5501", 12)
        await until(lambda: hass.states.get(button).state != STATE_UNAVAILABLE, hass, wait_s=15)  # type: ignore[union-attr]
        await until(lambda: entity.armed, hass)
        device.set_value("/3347/0/5501", 13)  # the next real press, after any catching up
        await until(lambda: 13 in presses, hass)
        assert presses == [8, 13]  # not 7 (before set-up) nor 12 (during the outage)
    finally:
        await device.stop()
        for entry in hass.config_entries.async_entries(DOMAIN):
            await hass.config_entries.async_unload(entry.entry_id)
        if restarted is not None:
            await restarted.stop()
        else:
            await gateway.stop()


async def test_a_zeroconf_announcement_reconnects_at_once(
    hass: HomeAssistant,
    loopback: None,
    tmp_path: FilePath,
    setup_entry: EntryFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gateway announces itself when it comes back; the integration does not wait out its
    backoff then."""
    gateway = await start_gateway(tmp_path / "g")
    restarted: Gateway | None = None
    monkeypatch.setattr(models, "RECONNECT_MIN", 120.0)  # a backoff the test would outwait
    monkeypatch.setattr(models, "RECONNECT_MAX", 120.0)
    try:
        entry = await setup_entry(gateway)
        runtime = entry.runtime_data
        api_port = gateway.api.port
        await gateway.stop()
        await until(lambda: not runtime.state.connected, hass)
        restarted = await start_gateway(tmp_path / "g", api_port=api_port)
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": "zeroconf"},
            data=ZeroconfServiceInfo(
                ip_address=LOOPBACK, ip_addresses=[LOOPBACK], hostname="gw.local.", name="gw",
                port=api_port,
                type="_lwm2m-gateway._tcp.local.",
                properties={"gateway_id": restarted.store.gateway_id},
            ),
        )  # fmt: skip
        await until(lambda: runtime.state.connected, hass, wait_s=5)
    finally:
        for entry in hass.config_entries.async_entries(DOMAIN):
            await hass.config_entries.async_unload(entry.entry_id)
        await (restarted or gateway).stop()


def test_reconnect_backoff_stays_within_ten_seconds() -> None:
    delays = [models.reconnect_delay(attempt) for attempt in range(20)]
    assert delays[0] <= 1.5
    assert max(delays) <= 10.0
    assert len({round(d, 3) for d in delays[8:]}) > 1  # jittered: gateways' clients spread out


def test_every_flow_step_explains_its_fields_and_every_abort_has_a_text() -> None:
    strings = json.loads((INTEGRATION / "translations" / "en.json").read_text())
    for name, step in strings["config"]["step"].items():
        for field in step.get("data", {}):
            assert field in step.get("data_description", {}), f"{name}.{field}"
    assert "already_in_progress" in strings["config"]["abort"]
    icons = json.loads((INTEGRATION / "icons.json").read_text())
    assert icons["entity"]["update"]["firmware"]["default"].startswith("mdi:")
    assert set(icons["services"]) >= {"read", "write", "execute", "write_attributes"}


async def test_generic_entities_read_well_once_enabled(
    hass: HomeAssistant, gateway: Gateway, make_device: DeviceFactory, setup_entry: EntryFactory
) -> None:
    await make_device("raw")
    await wait_registered(gateway, "raw")
    entry = await setup_entry(gateway)
    registry = er.async_get(hass)
    wanted = {
        "time": "raw/3/0/13",
        "addresses": "raw/4/0/4",
        "minimum": "raw/3303/0/5601",
        "type": "raw/3/0/17",
        "signal": "raw/4/0/2",
        "sources": "raw/3/0/6",
    }
    ids = {key: entity_id(hass, "sensor", unique) for key, unique in wanted.items()}
    for found in ids.values():
        registry.async_update_entity(found, disabled_by=None)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    states = {key: hass.states.get(found) for key, found in ids.items()}
    assert all(states.values()), states

    current_time = states["time"]
    assert current_time.attributes["device_class"] == SensorDeviceClass.TIMESTAMP  # type: ignore[union-attr]
    assert datetime.fromisoformat(current_time.state).year >= 2026  # type: ignore[union-attr]
    assert states["addresses"].state == "127.0.0.1"  # type: ignore[union-attr]  # not {'0': ...}
    assert states["addresses"].attributes.get("instance_0") is None  # type: ignore[union-attr]  # one: the state says it
    sources = states["sources"]  # 3/0/6 Available Power Sources: battery (1) and USB (5)
    assert sources.state == "1, 5"  # type: ignore[union-attr]
    assert (sources.attributes["instance_0"], sources.attributes["instance_1"]) == (1, 5)  # type: ignore[union-attr]
    assert "state_class" not in sources.attributes  # type: ignore[union-attr]
    minimum = states["minimum"]
    assert minimum.attributes["unit_of_measurement"] == "°C"  # type: ignore[union-attr]  # 5701's
    assert minimum.attributes["state_class"] == SensorStateClass.MEASUREMENT  # type: ignore[union-attr]
    assert float(minimum.state) == 21.5  # type: ignore[union-attr]
    assert states["signal"].attributes["state_class"] == SensorStateClass.MEASUREMENT  # type: ignore[union-attr]
    assert states["type"].name.endswith("Device Type")  # type: ignore[union-attr]
    assert "Device Device" not in states["type"].name  # type: ignore[union-attr]


async def test_devices_the_gateway_forgot_leave_home_assistant(
    hass: HomeAssistant, gateway: Gateway, make_device: DeviceFactory, setup_entry: EntryFactory
) -> None:
    """Stale devices: an endpoint removed on the gateway (from a script, another client, or
    while Home Assistant was away) does not linger as a dead device."""
    for name in ("kept", "gone-now", "gone-away"):
        await make_device(name)
        await wait_registered(gateway, name)
    entry = await setup_entry(gateway)
    devices = dr.async_get(hass)
    gateway.server.registrations.remove("gone-now")
    await until(lambda: devices.async_get_device(identifiers={(DOMAIN, "gone-now")}) is None, hass)

    await hass.config_entries.async_unload(entry.entry_id)
    gateway.server.registrations.remove("gone-away")  # while Home Assistant is not listening
    assert devices.async_get_device(identifiers={(DOMAIN, "gone-away")}) is not None
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert devices.async_get_device(identifiers={(DOMAIN, "gone-away")}) is None
    assert devices.async_get_device(identifiers={(DOMAIN, "kept")}) is not None
    assert devices.async_get_device(identifiers={(DOMAIN, gateway.store.gateway_id)}) is not None
