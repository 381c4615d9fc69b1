"""Client-initiated bootstrap (LwM2M 1.1 core §6.1): devices that know only the gateway's address.

The simulated device carries a bootstrap account and answers Bootstrap-Delete, -Discover,
-Write and -Finish as clients do; a scripted raw-UDP device checks the exact bytes written.
"""

from __future__ import annotations

import asyncio

import aiocoap
import pytest
from aiocoap.numbers.codes import Code

from lwm2m_gateway.lwm2m.codecs import ContentFormat
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.server import Lwm2mServer
from lwm2m_gateway.simulator import SimulatedDevice
from tests.gateway.conftest import DeviceFactory, Events, ServerFactory
from tests.gateway.rawdevice import RawDevice, Reply

KEY = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")


@pytest.fixture
async def gateway(make_server: ServerFactory) -> tuple[Lwm2mServer, Events]:
    return await make_server(coaps_port=0)


def plain_uri(lwm2m: Lwm2mServer) -> str:
    return f"coap://127.0.0.1:{lwm2m.coap_port}"


def steps(device: SimulatedDevice) -> list[tuple[str, str, int | None]]:
    assert device.bootstrap is not None
    return device.bootstrap.requests


async def test_a_1_1_device_bootstraps_in_its_format_then_registers_with_its_account(
    gateway: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = gateway
    device = await make_device(
        lwm2m, "fresh", server_uri=plain_uri(lwm2m), bootstrap=True,
        content_format=ContentFormat.SENML_CBOR,
    )  # fmt: skip
    done = await events.wait("endpoint_bootstrapped", "fresh")
    assert done.data == {"endpoint": "fresh", "security": "nosec", "server_uri": plain_uri(lwm2m)}
    assert steps(device) == [
        ("DELETE", "/0", None),
        ("DELETE", "/1", None),
        ("GET", "/0", None),  # Bootstrap-Discover: its bootstrap account is /0/0
        ("PUT", "/0/1", ContentFormat.SENML_CBOR),  # the client's preferred format (pct)
        ("PUT", "/1/0", ContentFormat.SENML_CBOR),
        ("POST", "/bs", None),
    ]
    registered = await events.wait("endpoint_registered", "fresh")
    assert registered.data["lifetime"] == 300
    assert device.value(Path(0, 0, 1)) is True  # the bootstrap account is kept
    assert device.value(Path(0, 1, 2)) == 3  # NoSec
    assert device.value(Path(1, 0, 0)) == device.value(Path(0, 1, 10)) == 1


async def test_a_1_0_device_is_written_in_tlv_without_discover(
    gateway: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = gateway
    device = await make_device(
        lwm2m, "old", server_uri=plain_uri(lwm2m), bootstrap=True, lwm2m_version="1.0",
        content_format=ContentFormat.TLV,
    )  # fmt: skip
    await events.wait("endpoint_registered", "old")
    assert [s for s in steps(device) if s[0] == "GET"] == []
    assert {fmt for method, _, fmt in steps(device) if method == "PUT"} == {ContentFormat.TLV}


async def test_a_device_with_credentials_bootstraps_over_dtls_and_is_given_coaps(
    gateway: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = gateway
    lwm2m.security.set("secure-bs", "secure-bs-id", KEY)
    coaps = f"coaps://127.0.0.1:{lwm2m.coaps_port}"
    device = await make_device(
        lwm2m, "secure-bs", server_uri=coaps, bootstrap=True, psk=("secure-bs-id", KEY)
    )
    done = await events.wait("endpoint_bootstrapped", "secure-bs")
    assert done.data["server_uri"] == coaps
    assert done.data["security"] == "psk"
    assert device.value(Path(0, 1, 2)) == 0  # PSK
    assert device.value(Path(0, 1, 3)) == b"secure-bs-id"
    assert device.value(Path(0, 1, 5)) == KEY
    registered = await events.wait("endpoint_registered", "secure-bs")
    assert registered.data["security"] == "psk"

    # and a bootstrap of that endpoint over plain CoAP is refused
    intruder = SimulatedDevice("secure-bs", plain_uri(lwm2m), bootstrap=True, auto_update=False)
    with pytest.raises(RuntimeError, match=r"Bootstrap-Request answered 4\.03"):
        await intruder.start()


async def test_a_refused_finish_is_reported_with_the_clients_message(
    gateway: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = gateway
    device = SimulatedDevice(
        "picky", plain_uri(lwm2m), bootstrap=True, refuse_finish="inconsistent: no ACL",
        auto_update=False,
    )  # fmt: skip
    await device.open()
    try:
        with pytest.raises(TimeoutError):
            await device.run_bootstrap(wait_s=3)
        failed = await events.wait("bootstrap_failed", "picky")
        assert failed.data["step"] == "finish"
        assert "4.06" in failed.data["reason"]
        assert "inconsistent: no ACL" in failed.data["reason"]
        assert "endpoint_bootstrapped" not in events.names("picky")
    finally:
        await device.stop()


async def test_under_approve_a_bootstrap_waits_and_is_provisioned_once_approved(
    make_server: ServerFactory,
) -> None:
    lwm2m, events = await make_server(unknown_endpoints="approve")
    device = SimulatedDevice("newcomer", plain_uri(lwm2m), bootstrap=True, auto_update=False)
    starting = asyncio.create_task(device.start())
    try:
        pending = await events.wait("endpoint_pending", "newcomer")
        assert pending.data["bootstrap"] is True
        assert steps(device) == []  # nothing is written before the owner decides
        lwm2m.registrations.approve("newcomer")
        await events.wait("endpoint_bootstrapped", "newcomer")
        await asyncio.wait_for(starting, 10)
        await events.wait("endpoint_registered", "newcomer")  # approved: registers at once
    finally:
        starting.cancel()
        await device.stop()


async def test_bootstrapping_again_gives_the_same_account_and_settings_apply(
    gateway: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = gateway
    lwm2m.bootstrap.set_config("again", {"lifetime": 120, "binding": "UQ"})
    device = await make_device(lwm2m, "again", server_uri=plain_uri(lwm2m), bootstrap=True)
    first = await events.wait("endpoint_bootstrapped", "again")
    registered = await events.wait("endpoint_registered", "again")
    assert (registered.data["lifetime"], registered.data["binding"]) == (120, "UQ")
    events.seen.clear()
    assert device.bootstrap is not None
    await device.rebootstrap()
    second = await events.wait("endpoint_bootstrapped", "again")
    assert second.data == first.data
    assert device.value(Path(1, 0, 1)) == 120


def tlv(resource_id: int, value: bytes) -> bytes:
    """One resource TLV (LwM2M 1.1 core §7.4.3), written from the spec, not our codec."""
    if len(value) < 8:
        return bytes([0b11000000 | len(value), resource_id]) + value
    if len(value) < 256:
        return bytes([0b11001000, resource_id, len(value)]) + value
    return bytes([0b11010000, resource_id]) + len(value).to_bytes(2, "big") + value


async def test_the_bootstrap_writes_are_these_tlv_bytes_for_a_1_0_client(
    gateway: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = gateway
    finish: list[aiocoap.Message] = []

    def client(message: aiocoap.Message) -> Reply:
        if message.code == Code.DELETE:
            return Code.DELETED, None, b""
        if tuple(message.opt.uri_path) == ("bs",):
            finish.append(message)
        return Code.CHANGED, None, b""

    device = await RawDevice.start(client)
    try:
        answer = await device.request(lwm2m.coap_port, Code.POST, "/bs", ["ep=raw-1.0"])
        assert answer.code == Code.CHANGED
        await events.wait("endpoint_bootstrapped", "raw-1.0")
        sent = [
            (str(r.message.code), r.path, r.message.opt.content_format) for r in device.received
        ]
        assert sent == [
            ("DELETE", "/0", None),
            ("DELETE", "/1", None),
            ("PUT", "/0/1", 11542),
            ("PUT", "/1/0", 11542),
            ("POST", "/bs", None),
        ]
        uri = f"coap://127.0.0.1:{lwm2m.coap_port}".encode()
        security = (
            tlv(0, uri)  # LwM2M Server URI
            + tlv(1, b"\x00")  # Bootstrap-Server: false
            + tlv(2, b"\x03")  # Security Mode: NoSec
            + tlv(3, b"") + tlv(4, b"") + tlv(5, b"")  # no identity, server key, secret key
            + tlv(10, b"\x01")  # Short Server ID
        )  # fmt: skip
        server = (
            tlv(0, b"\x01")  # Short Server ID
            + tlv(1, (300).to_bytes(2, "big"))  # Lifetime
            + tlv(6, b"\x01")  # Notification Storing
            + tlv(7, b"U")  # Binding
        )  # fmt: skip
        assert device.received[2].message.payload.hex(" ") == security.hex(" ")
        assert device.received[3].message.payload.hex(" ") == server.hex(" ")
        assert len(finish) == 1
    finally:
        device.close()


async def test_rebootstrap_executes_the_trigger_of_the_server_object(
    gateway: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = gateway
    device = await make_device(lwm2m, "rotate", server_uri=plain_uri(lwm2m), bootstrap=True)
    await events.wait("endpoint_registered", "rotate")
    events.seen.clear()
    await lwm2m.device.execute("rotate", Path(1, 0, 9))
    assert device.executed[-1] == (Path(1, 0, 9), "")
    await events.wait("endpoint_bootstrapped", "rotate")  # the device bootstrapped again
    await events.wait("endpoint_registered", "rotate")


async def test_public_host_is_what_devices_are_told(make_server: ServerFactory) -> None:
    lwm2m, events = await make_server(public_host="lwm2m.example.net")

    def client(message: aiocoap.Message) -> Reply:
        return (Code.DELETED if message.code == Code.DELETE else Code.CHANGED), None, b""

    device = await RawDevice.start(client)
    try:
        await device.request(lwm2m.coap_port, Code.POST, "/bs", ["ep=behind-nat"])
        done = await events.wait("endpoint_bootstrapped", "behind-nat")
        uri = f"coap://lwm2m.example.net:{lwm2m.coap_port}"
        assert done.data["server_uri"] == uri
        security = next(r.message for r in device.received if r.path == "/0/1")
        assert tlv(0, uri.encode()) in security.payload
    finally:
        device.close()
