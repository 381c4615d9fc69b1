"""LwM2M Send (1.1 core §6.4.6): values pushed to /dp by registered devices only."""

from __future__ import annotations

import asyncio

import aiocoap
from aiocoap.numbers.codes import Code

from lwm2m_gateway.lwm2m.codecs import ContentFormat
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.server import Lwm2mServer
from tests.gateway.conftest import DeviceFactory, Events


async def test_send_updates_values_and_emits_events(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "sender")
    await events.wait("endpoint_registered", "sender")
    device.values[Path(3304, 0, 5700)] = 55.5  # changed silently: only Send reports it
    events.seen.clear()
    await device.send(["/3304/0/5700", "/3/0/9"], fmt=ContentFormat.SENML_CBOR)
    event = await events.wait("resource_changed", "sender", path="/3304/0/5700")
    assert event.data["value"] == 55.5
    assert lwm2m.registrations.describe("sender")["objects"]


async def test_send_from_an_unregistered_address_is_refused(
    server: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, _ = server
    context = await aiocoap.Context.create_client_context()
    try:
        message = aiocoap.Message(
            code=Code.POST,
            uri=f"coap://127.0.0.1:{lwm2m.coap_port}/dp",
            payload=b'[{"n":"/3303/0/5700","v":1}]',
            content_format=110,
        )
        response = await asyncio.wait_for(context.request(message).response, 5)
    finally:
        await context.shutdown()
    assert response.code == Code.FORBIDDEN


async def test_a_malformed_send_is_4_00_and_changes_nothing(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "garbled")
    await events.wait("endpoint_registered", "garbled")
    message = aiocoap.Message(
        code=Code.POST,
        uri=f"coap://127.0.0.1:{lwm2m.coap_port}/dp",
        payload=b"[{not senml",
        content_format=110,
    )
    response = await asyncio.wait_for(device.context.request(message).response, 5)
    assert response.code == Code.BAD_REQUEST
    assert b"SenML JSON" in response.payload


async def test_a_batch_of_timestamped_records_keeps_the_newest_and_reports_the_rest(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    """A sleepy sensor Sends an hour of readings at once, out of order as SenML allows: the
    value is the newest, and resource_changed carries the earlier ones, oldest first."""
    from lwm2m_gateway.lwm2m.values import Record

    lwm2m, events = server
    device = await make_device(lwm2m, "sleepy")
    await events.wait("endpoint_registered", "sleepy")
    start = 1_796_000_000.0
    temperature = Path(3303, 0, 5700)
    batch = [Record(temperature, 20.0 + i / 10, start + 60 * i) for i in range(60)]
    batch = batch[30:] + batch[:30]  # not in time order
    await device.send([], ContentFormat.SENML_CBOR, records=batch)
    changed = await events.wait("resource_changed", "sleepy", path="/3303/0/5700", value=25.9)
    assert changed.data["timestamp"] == start + 60 * 59
    history = changed.data["history"]
    assert [when for when, _ in history] == [start + 60 * i for i in range(59)]
    assert [value for _, value in history] == [20.0 + i / 10 for i in range(59)]
    assert lwm2m.registrations.get("sleepy").values[temperature] == (25.9, start + 60 * 59)
