"""Queue mode (LwM2M 1.1 core §6.5): requests wait for a sleeping device and go when it wakes."""

from __future__ import annotations

import asyncio

import pytest

from lwm2m_gateway.lwm2m.errors import DeviceTimeout, QueueFull
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.lwm2m.values import Record, Value
from tests.gateway.conftest import DeviceFactory, ServerFactory, until


async def test_requests_wait_until_the_device_wakes(
    make_server: ServerFactory, make_device: DeviceFactory
) -> None:
    lwm2m, events = await make_server(awake_time=0.5)
    device = await make_device(lwm2m, "sleepy", binding="UQ", auto_update=False)
    registered = await events.wait("endpoint_registered", "sleepy")
    assert registered.data["queue_mode"] is True
    await device.sleep()
    await events.wait("endpoint_asleep", "sleepy", wait_s=5)
    assert lwm2m.registrations.describe("sleepy")["asleep"] is True
    assert lwm2m.registrations.describe("sleepy")["online"] is True
    served = len(device.requests)
    read = asyncio.create_task(lwm2m.device.read("sleepy", [Path(3303, 0, 5700)]))
    await until(lambda: lwm2m.presence.waiting("sleepy") == 1)  # held by the gateway
    assert not read.done()
    assert len(device.requests) == served  # nothing was sent to the sleeping device
    await device.wake()  # sends an Update
    (record,) = await asyncio.wait_for(read, 5)
    assert record.value == 21.5
    assert "endpoint_awake" in events.names("sleepy")


async def test_a_device_that_stays_asleep_times_out(
    make_server: ServerFactory, make_device: DeviceFactory
) -> None:
    lwm2m, events = await make_server(awake_time=0.2, queue_timeout=0.5)
    device = await make_device(lwm2m, "gone", binding="UQ", auto_update=False)
    await events.wait("endpoint_registered", "gone")
    await device.sleep()
    await events.wait("endpoint_asleep", "gone", wait_s=5)
    with pytest.raises(DeviceTimeout, match="stayed asleep"):
        await lwm2m.device.read("gone", [Path(3, 0)])


async def test_the_queue_per_device_is_bounded(
    make_server: ServerFactory, make_device: DeviceFactory
) -> None:
    lwm2m, events = await make_server(awake_time=0.2, queue_limit=2)
    device = await make_device(lwm2m, "full", binding="UQ", auto_update=False)
    await events.wait("endpoint_registered", "full")
    await device.sleep()
    await events.wait("endpoint_asleep", "full", wait_s=5)
    waiting = [asyncio.create_task(lwm2m.device.read("full", [Path(3, 0, 0)])) for _ in range(2)]
    await until(lambda: lwm2m.presence.waiting("full") == 2)
    with pytest.raises(QueueFull):
        await lwm2m.device.read("full", [Path(3, 0, 0)])
    await device.wake()
    assert all(r[0].value == "ha-lwm2m" for r in await asyncio.gather(*waiting))


async def test_requests_queued_for_a_sleeping_device_go_in_the_order_they_were_made(
    make_server: ServerFactory, make_device: DeviceFactory
) -> None:
    lwm2m, events = await make_server(awake_time=0.3, queue_limit=64)
    device = await make_device(lwm2m, "orderly", binding="UQ", auto_update=False)
    await events.wait("endpoint_registered", "orderly")
    await device.sleep()
    await events.wait("endpoint_asleep", "orderly", wait_s=5)
    path = Path(3311, 0, 5851)
    writes = [
        asyncio.create_task(lwm2m.device.write("orderly", path, [Record(path, n)], replace=True))
        for n in range(32)
    ]
    await until(lambda: lwm2m.presence.waiting("orderly") == 32)
    seen: list[object] = []
    original = device.set_value

    def recording(target: Path | str, value: Value) -> None:
        if str(target) == str(path):
            seen.append(value)
        original(target, value)

    device.set_value = recording  # type: ignore[method-assign,assignment]
    await device.wake()
    await asyncio.gather(*writes)
    assert seen == list(range(32))  # in the order they were made: the last write wins
