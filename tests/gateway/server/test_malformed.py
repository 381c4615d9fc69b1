"""Garbage on the wire is answered or dropped, and the server keeps serving everyone else."""

from __future__ import annotations

import asyncio
import socket

import aiocoap
import pytest
from aiocoap.numbers.codes import Code

from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.server import Lwm2mServer
from tests.gateway.conftest import DeviceFactory, Events

GARBAGE = [
    b"",
    b"\x00",
    b"\xff" * 64,
    b"\x40\x02\x00",  # a truncated CoAP header
    b"\x44\x02\x12\x34\xde\xad\xbe\xef\xbd\xff",  # an option with a bad extended length
    bytes(range(256)),
]


async def test_garbage_datagrams_do_not_stop_the_server(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        for datagram in GARBAGE * 5:
            raw.sendto(datagram, ("127.0.0.1", lwm2m.coap_port))
    await make_device(lwm2m, "after-garbage")
    await events.wait("endpoint_registered", "after-garbage")
    (record,) = await lwm2m.device.read("after-garbage", [Path(3303, 0, 5700)])
    assert record.value == 21.5


async def test_a_register_with_a_wrong_content_format_is_4_00(
    server: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, _ = server
    context = await aiocoap.Context.create_client_context()
    try:
        message = aiocoap.Message(
            code=Code.POST,
            uri=f"coap://127.0.0.1:{lwm2m.coap_port}/rd",
            uri_query=["ep=x"],
            payload=b"{}",
            content_format=50,
        )
        response = await asyncio.wait_for(context.request(message).response, 5)
    finally:
        await context.shutdown()
    assert response.code == Code.BAD_REQUEST
    assert b"link format" in response.payload


async def test_a_device_answering_garbage_gets_a_codec_error_not_a_crash(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "liar")
    await events.wait("endpoint_registered", "liar")

    async def broken(request: aiocoap.Message) -> aiocoap.Message:
        return aiocoap.Message(code=Code.CONTENT, payload=b"[{oops", content_format=110)

    device.handle = broken  # type: ignore[method-assign]
    from lwm2m_gateway.lwm2m.errors import CodecError

    with pytest.raises(CodecError, match="SenML JSON"):
        await lwm2m.device.read("liar", [Path(3, 0)])
    assert lwm2m.registrations.names() == ["liar"]


async def test_malformed_datagrams_cost_no_tracebacks_and_few_log_lines(
    server: tuple[Lwm2mServer, Events],
    make_device: DeviceFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lwm2m, events = server
    bad_utf8 = [
        bytes([0x40, 0x02, 0x00, n]) + bytes([0xB2, 0xFF, 0xFE])  # Uri-Path: invalid UTF-8
        for n in range(50)
    ]
    bad_query = [bytes([0x40, 0x02, 0x01, n]) + bytes([0xB2, 0x72, 0x64, 0x42, 0xC3, 0x28])
                 for n in range(50)]  # fmt: skip
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        for datagram in bad_utf8 + bad_query + GARBAGE * 20:
            raw.sendto(datagram, ("127.0.0.1", lwm2m.coap_port))
    await make_device(lwm2m, "after-fuzz")  # served after the garbage, in order
    await events.wait("endpoint_registered", "after-fuzz")
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    noisy = [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    assert len(noisy) <= 3, [r.getMessage() for r in noisy]
