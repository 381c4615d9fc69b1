"""A restarted server knows its devices, values and observations without any re-registration."""

from __future__ import annotations

from pathlib import Path as FilePath

from lwm2m_gateway.lwm2m.paths import Path
from tests.gateway.conftest import DeviceFactory


async def test_restart_serves_known_devices_without_re_registering(
    make_server: object, make_device: DeviceFactory, tmp_path: FilePath
) -> None:
    data = tmp_path / "restart"
    first, events = await make_server(data)  # type: ignore[operator]
    device = await make_device(first, "survivor", auto_update=False)
    await events.wait("endpoint_registered", "survivor")
    await first.observations.observe("survivor", [Path(3303, 0, 5700)])
    port = first.coap_port
    await first.stop()

    second, later = await make_server(data, coap_port=port)  # type: ignore[operator]
    assert second.registrations.names() == ["survivor"]
    state = second.registrations.describe("survivor")
    temperature = next(o for o in state["objects"] if o["id"] == 3303)
    values = {r["id"]: r["value"] for r in temperature["instances"][0]["resources"]}
    assert values[5700] == 21.5  # restored from the store, not read again
    registrations = len([r for r in device.requests if r == ("POST", "/rd")])
    assert registrations == 0  # the device never registered again
    # the observation is re-established on its own, and requests reach the stored address
    device.set_value("/3303/0/5700", 18.5)
    await later.wait("resource_changed", "survivor", path="/3303/0/5700", value=18.5)
    (record,) = await second.device.read("survivor", [Path(3, 0, 0)])
    assert record.value == "ha-lwm2m"


async def test_expired_registrations_are_dropped_at_start(
    make_server: object, make_device: DeviceFactory, tmp_path: FilePath
) -> None:
    data = tmp_path / "expired"
    first, events = await make_server(data)  # type: ignore[operator]
    await make_device(first, "brief", lifetime=1, auto_update=False)
    await events.wait("endpoint_registered", "brief")
    await first.stop()
    import asyncio

    await asyncio.sleep(1.2)
    second, _ = await make_server(data)  # type: ignore[operator]
    assert second.registrations.names() == []
