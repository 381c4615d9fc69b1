"""Information reporting (LwM2M 1.1 core §6.4): Observe, Notify, Cancel, re-observe."""

from __future__ import annotations

from lwm2m_gateway.lwm2m.codecs import ContentFormat
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.server import Lwm2mServer
from tests.gateway.conftest import DeviceFactory, Events, until


def changes(events: Events, endpoint: str, path: str) -> list[object]:
    return [
        e.data["value"]
        for e in events.seen
        if e.name == "resource_changed" and e.endpoint == endpoint and e.data["path"] == path
    ]


async def test_notifications_become_resource_changed_events(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "obs", content_format=ContentFormat.SENML_CBOR)
    await events.wait("endpoint_registered", "obs")
    await lwm2m.observations.observe("obs", [Path(3303, 0, 5700)])
    for value in (22.0, 23.5, 19.25):
        device.set_value("/3303/0/5700", value)
        await events.wait("resource_changed", "obs", path="/3303/0/5700", value=value)
    # written behind (one commit per 100 ms), so on disk shortly after
    await until(
        lambda: lwm2m.store.load_values().get("obs", {}).get("/3303/0/5700", (0,))[0] == 19.25
    )


async def test_observing_an_instance_reports_each_resource(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "inst", content_format=ContentFormat.TLV)
    await events.wait("endpoint_registered", "inst")
    await lwm2m.observations.observe("inst", [Path(3311, 0)])
    device.set_value("/3311/0/5851", 77)
    await events.wait("resource_changed", "inst", path="/3311/0/5851", value=77)


async def test_composite_observe(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "comp", content_format=ContentFormat.SENML_JSON)
    await events.wait("endpoint_registered", "comp")
    await lwm2m.observations.observe("comp", [Path(3303, 0, 5700), Path(3304, 0, 5700)])
    assert device.requests[-1] == ("FETCH", "/")  # one composite request (options: test_wire.py)
    (observation,) = device.observations
    assert observation.paths == (Path(3303, 0, 5700), Path(3304, 0, 5700))
    device.set_value("/3304/0/5700", 60.0)
    await events.wait("resource_changed", "comp", path="/3304/0/5700", value=60.0)
    device.set_value("/3303/0/5700", 23.0)
    await events.wait("resource_changed", "comp", path="/3303/0/5700", value=23.0)


async def test_observe_twice_asks_the_device_once(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "twice")
    await events.wait("endpoint_registered", "twice")
    await lwm2m.observations.observe("twice", [Path(3303, 0, 5700)])
    before = len(device.requests)
    records = await lwm2m.observations.observe("twice", [Path(3303, 0, 5700)])
    assert len(device.requests) == before
    assert [r.value for r in records] == [21.5]


async def test_gt_attribute_filters_notifications(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "gt")
    await events.wait("endpoint_registered", "gt")
    await lwm2m.device.write_attributes("gt", Path(3303, 0, 5700), {"gt": 30})
    await lwm2m.observations.observe("gt", [Path(3303, 0, 5700)])
    device.set_value("/3303/0/5700", 25.0)  # below the threshold: no notification
    device.set_value("/3303/0/5700", 31.0)  # crosses it
    await events.wait("resource_changed", "gt", path="/3303/0/5700", value=31.0)
    # notifications arrive in order: had 25.0 been sent, it would be here before 31.0
    assert changes(events, "gt", "/3303/0/5700")[-2:] != [25.0, 31.0]
    assert 25.0 not in changes(events, "gt", "/3303/0/5700")


async def test_passive_cancel_stops_events(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "quiet")
    await events.wait("endpoint_registered", "quiet")
    await lwm2m.observations.observe("quiet", [Path(3303, 0, 5700)])
    await lwm2m.observations.observe("quiet", [Path(3304, 0, 5700)])  # stays, as a sentinel
    await lwm2m.observations.cancel_observe("quiet", [Path(3303, 0, 5700)], active=False)
    device.set_value("/3303/0/5700", 40.0)
    device.set_value("/3304/0/5700", 55.0)
    # notifications leave the device in order: once the sentinel's is in, the other was handled
    await events.wait("resource_changed", "quiet", path="/3304/0/5700", value=55.0)
    assert 40.0 not in changes(events, "quiet", "/3303/0/5700")
    assert set(lwm2m.store.load_observations_of("quiet")) == {"/3304/0/5700"}


async def test_active_cancel_tells_the_device(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "active")
    await events.wait("endpoint_registered", "active")
    await lwm2m.observations.observe("active", [Path(3303, 0, 5700)])
    await lwm2m.observations.observe("active", [Path(3304, 0, 5700)])  # stays, as a sentinel
    await lwm2m.observations.cancel_observe("active", [Path(3303, 0, 5700)], active=True)
    # Observe=1 on the wire: test_wire.py::test_observe_and_active_cancel_carry_observe_0_then_1
    assert device.requests[-1] == ("GET", "/3303/0/5700")
    assert lwm2m.observations.live_keys("active") == ["/3304/0/5700"]
    device.set_value("/3303/0/5700", 41.0)
    device.set_value("/3304/0/5700", 56.0)
    await events.wait("resource_changed", "active", path="/3304/0/5700", value=56.0)
    assert 41.0 not in changes(events, "active", "/3303/0/5700")


async def test_observations_come_back_when_the_device_registers_again(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "reboot", auto_update=False)
    await events.wait("endpoint_registered", "reboot")
    await lwm2m.observations.observe("reboot", [Path(3303, 0, 5700)])
    await device.stop()
    events.seen.clear()
    rebooted = await make_device(lwm2m, "reboot", auto_update=False)  # new socket, new token
    await events.wait("endpoint_registered", "reboot")
    await until(lambda: len(rebooted.observations) == 1)  # observed again, on the new socket
    rebooted.set_value("/3303/0/5700", 33.0)
    await events.wait("resource_changed", "reboot", path="/3303/0/5700", value=33.0)
