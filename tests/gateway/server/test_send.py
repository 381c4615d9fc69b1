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
