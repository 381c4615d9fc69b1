"""The inventory after Register (server/inventory.py): the device is announced at once, its
Discover and Reads follow from a paced queue, and an inventory still valid is reused."""

from __future__ import annotations

import asyncio
from pathlib import Path as FilePath

from aiocoap.numbers.codes import Code

from lwm2m_gateway.server import Lwm2mServer
from lwm2m_gateway.simulator import SimulatedDevice
from lwm2m_gateway.simulator.objects import standard_objects
from tests.gateway.conftest import DeviceFactory, Events, ServerFactory, until
from tests.gateway.rawdevice import RawDevice
from tests.gateway.server.test_wire import accept_everything

LINKS = b'</>;rt="oma.lwm2m",</3/0>,</3303/0>'


async def register(lwm2m: Lwm2mServer, name: str, links: bytes = LINKS) -> RawDevice:
    device = await RawDevice.start(accept_everything)
    answer = await device.request(
        lwm2m.coap_port, Code.POST, "/rd", [f"ep={name}", "lt=300"], links
    )
    assert answer.code == Code.CREATED
    return device


def inventoried(events: Events, name: str) -> int:
    return sum(1 for e in events.seen if e.name == "endpoint_inventoried" and e.endpoint == name)


async def test_a_storm_is_announced_at_once_and_inventoried_at_the_configured_pace(
    make_server: ServerFactory,
) -> None:
    lwm2m, events = await make_server(register_rate=0, inventory_rate=5, inventory_concurrency=8)
    loop = asyncio.get_running_loop()
    first = loop.time()
    devices = [await register(lwm2m, f"storm-{n}") for n in range(12)]
    for n in range(12):  # usable at once: announced before any inventory of it
        registered = await events.wait("endpoint_registered", f"storm-{n}")
        assert registered.data["inventoried_at"] is None
    started = lwm2m.inventory.completed + lwm2m.inventory.running
    elapsed = loop.time() - first
    assert started <= 2 + 5 * elapsed  # the pace: one now, then one every 0.2 s
    assert lwm2m.inventory.waiting >= 12 - started  # the rest wait: none is skipped
    await until(lambda: all(inventoried(events, f"storm-{n}") == 1 for n in range(12)), 10)
    for device in devices:  # each was asked about /3 and /3303, in one inventory
        assert sorted({r.path for r in device.received}) == ["/3", "/3303"]
        device.close()


async def test_registering_again_with_the_same_links_keeps_the_inventory(
    make_server: ServerFactory, make_device: DeviceFactory
) -> None:
    lwm2m, events = await make_server()
    device = await make_device(lwm2m, "keeper", auto_update=False)
    first = await events.wait("endpoint_inventoried", "keeper")
    await device.stop()
    events.seen.clear()
    again = await make_device(lwm2m, "keeper", auto_update=False)  # a new socket, same links
    reused = await events.wait("endpoint_inventoried", "keeper")
    assert reused.data["inventoried_at"] == first.data["inventoried_at"]
    assert not [r for r in again.requests if r[1] in ("/3", "/3303")]  # not read again
    objects = {o["id"]: o for o in reused.data["objects"]}
    values = {r["id"]: r["value"] for r in objects[3303]["instances"][0]["resources"]}
    assert values[5700] == 21.5  # what the first inventory learnt
    assert lwm2m.inventory.reused == 1


def reads(device: SimulatedDevice) -> list[str]:
    """The inventory's requests a simulated device got (Discover and Read of objects)."""
    return [path for _, path in device.requests if path.count("/") == 1]


async def test_other_links_or_an_old_inventory_are_inventoried_again(
    make_server: ServerFactory, make_device: DeviceFactory
) -> None:
    lwm2m, events = await make_server(inventory_valid_for=60)
    device_only = {p: v for p, v in standard_objects("changer").items() if p.object_id == 3}
    device = await make_device(lwm2m, "changer", auto_update=False, values=device_only)
    await events.wait("endpoint_inventoried", "changer")
    await device.stop()
    events.seen.clear()
    device = await make_device(lwm2m, "changer", auto_update=False)  # it gained objects
    await events.wait("endpoint_inventoried", "changer")
    assert "/3303" in reads(device)
    assert lwm2m.inventory.reused == 0

    never, never_events = await make_server(inventory_valid_for=0, data_dir=None)
    device = await make_device(never, "always", auto_update=False)
    await never_events.wait("endpoint_inventoried", "always")
    await device.stop()
    never_events.seen.clear()
    device = await make_device(never, "always", auto_update=False)
    await never_events.wait("endpoint_inventoried", "always")
    assert "/3303" in reads(device)  # 0: every registration is read
    assert never.inventory.reused == 0


async def test_an_inventory_survives_a_restart_of_the_gateway(
    make_server: ServerFactory, make_device: DeviceFactory, tmp_path: FilePath
) -> None:
    lwm2m, events = await make_server(data_dir=tmp_path / "kept")
    device = await make_device(lwm2m, "survivor", auto_update=False)
    await events.wait("endpoint_inventoried", "survivor")
    await device.stop()
    await lwm2m.stop()
    restarted, restarted_events = await make_server(data_dir=tmp_path / "kept")
    device = await make_device(restarted, "survivor", auto_update=False)  # it had expired, say
    await restarted_events.wait("endpoint_inventoried", "survivor")
    assert restarted.inventory.reused == 1
    assert reads(device) == []


async def test_a_device_that_leaves_while_waiting_is_not_inventoried(
    make_server: ServerFactory,
) -> None:
    lwm2m, events = await make_server(register_rate=0, inventory_rate=2, inventory_concurrency=1)
    first = await register(lwm2m, "first")
    second = await register(lwm2m, "second")
    leaving = await register(lwm2m, "leaving")
    location = lwm2m.registrations.get("leaving").registration.registration_id
    answer = await leaving.request(lwm2m.coap_port, Code.DELETE, f"/rd/{location}", [])
    assert answer.code == Code.DELETED
    await until(lambda: inventoried(events, "second") == 1)
    await asyncio.sleep(1.0)  # its turn would have come by now
    assert lwm2m.inventory.waiting == 0
    assert [r.path for r in leaving.received] == []
    for device in (first, second, leaving):
        device.close()
