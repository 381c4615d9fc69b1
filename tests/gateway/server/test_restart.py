"""A restarted server knows its devices, values and observations without any re-registration."""

from __future__ import annotations

import asyncio
from pathlib import Path as FilePath

from lwm2m_gateway.lwm2m.paths import Path
from tests.gateway.conftest import DeviceFactory, ServerFactory


async def test_restart_serves_known_devices_without_re_registering(
    make_server: ServerFactory, make_device: DeviceFactory, tmp_path: FilePath
) -> None:
    data = tmp_path / "restart"
    first, events = await make_server(data)
    device = await make_device(first, "survivor", auto_update=False)
    await events.wait("endpoint_registered", "survivor")
    await first.observations.observe("survivor", [Path(3303, 0, 5700)])
    port = first.coap_port
    registration_id = first.registrations.get("survivor").registration.registration_id
    await first.stop()
    await device.sleep()  # silent across the restart: whatever the gateway knows, it stored
    device.set_value("/3303/0/5700", 30.0)

    second, later = await make_server(data, coap_port=port)
    assert second.registrations.names() == ["survivor"]
    state = second.registrations.describe("survivor")
    temperature = next(o for o in state["objects"] if o["id"] == 3303)
    values = {r["id"]: r["value"] for r in temperature["instances"][0]["resources"]}
    assert values[5700] == 21.5  # the stored value: the device has answered nothing yet
    assert device.value("/3303/0/5700") == 30.0
    # the stored observation is re-established on its own, at the stored address
    await device.wake()
    await later.wait("resource_changed", "survivor", path="/3303/0/5700", value=30.0)
    assert "endpoint_registered" not in later.names("survivor")  # never registered again
    assert second.registrations.get("survivor").registration.registration_id == registration_id
    device.set_value("/3303/0/5700", 18.5)
    await later.wait("resource_changed", "survivor", path="/3303/0/5700", value=18.5)
    (record,) = await second.device.read("survivor", [Path(3, 0, 0)])
    assert record.value == "ha-lwm2m"


async def test_expired_registrations_are_dropped_at_start(
    make_server: ServerFactory, make_device: DeviceFactory, tmp_path: FilePath
) -> None:
    data = tmp_path / "expired"
    first, events = await make_server(data)
    await make_device(first, "brief", lifetime=1, auto_update=False)
    await events.wait("endpoint_registered", "brief")
    await first.stop()
    await asyncio.sleep(1.2)  # past the 1 s lifetime
    second, _ = await make_server(data)
    assert second.registrations.names() == []
