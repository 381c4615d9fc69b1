"""DTLS-PSK with every LwM2M cipher suite, against OpenSSL's own `openssl s_client`.

The device here is OpenSSL's command-line client, a DTLS stack we did not write, forced to one
suite at a time; CoAP bytes go through its standard input and output. It registers, and then
answers a Read the gateway sends over the same session, so both directions are proven.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket

import aiocoap
import pytest
from aiocoap.numbers.codes import Code
from aiocoap.numbers.types import Type

from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.server import Lwm2mServer
from tests.gateway.conftest import DeviceFactory, Events, ServerFactory

OPENSSL = shutil.which("openssl")
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
SUITES = {
    "TLS_PSK_WITH_AES_128_CCM_8": "PSK-AES128-CCM8",  # LwM2M's mandatory suite
    "TLS_PSK_WITH_AES_128_CBC_SHA256": "PSK-AES128-CBC-SHA256",  # LwM2M 1.0's second
    "TLS_PSK_WITH_AES_128_CCM": "PSK-AES128-CCM",
    "TLS_PSK_WITH_AES_128_GCM_SHA256": "PSK-AES128-GCM-SHA256",
}


@pytest.fixture(autouse=True)
def require_openssl() -> None:
    if OPENSSL is None:
        if os.environ.get("LWM2M_REQUIRE_PEERS") == "1":
            pytest.fail("the openssl command is required")
        pytest.skip("the openssl command is not installed")


class OpenSslDevice:
    """`openssl s_client` over DTLS 1.2 with a PSK; CoAP messages in and out of its pipes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def connect(
        cls, port: int, identity: str, key: bytes, suite: str, bind: int | None = None
    ) -> OpenSslDevice:
        args = ["-dtls1_2", "-connect", f"127.0.0.1:{port}", "-psk_identity", identity]
        args += ["-psk", key.hex(), "-cipher", f"{suite}:@SECLEVEL=0", "-quiet"]
        if bind is not None:
            args += ["-bind", f"127.0.0.1:{bind}"]
        process = await asyncio.create_subprocess_exec(
            OPENSSL or "openssl", "s_client", *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        return cls(process)

    async def send(self, message: aiocoap.Message) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(message.encode())
        await self.process.stdin.drain()

    async def receive(self) -> aiocoap.Message:
        assert self.process.stdout is not None
        data = await asyncio.wait_for(self.process.stdout.read(4096), 10)
        assert data, "openssl s_client ended"
        return aiocoap.Message.decode(data)

    async def request(self, message: aiocoap.Message) -> aiocoap.Message:
        await self.send(message)
        return await self.receive()

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()


def register(endpoint: str, mid: int = 1) -> aiocoap.Message:
    message = aiocoap.Message(
        code=Code.POST, uri_path=("rd",), uri_query=(f"ep={endpoint}", "lt=60", "lwm2m=1.1"),
        content_format=40, payload=b"</3/0>",
    )  # fmt: skip
    message.mtype, message.mid, message.token = Type.CON, mid, mid.to_bytes(2, "big")
    return message


async def answer_a_read(device: OpenSslDevice, value: bytes) -> aiocoap.Message:
    """Receive the gateway's request and answer it in a piggybacked ACK with value as text."""
    request = await device.receive()
    response = aiocoap.Message(code=Code.CONTENT, content_format=0, payload=value)
    response.mtype, response.mid, response.token = Type.ACK, request.mid, request.token
    await device.send(response)
    return request


@pytest.fixture
async def secure(make_server: ServerFactory) -> tuple[Lwm2mServer, Events]:
    return await make_server(coaps_port=0, initial_read=False)


@pytest.mark.parametrize("suite", sorted(SUITES))
async def test_openssl_registers_and_is_managed_over_each_lwm2m_suite(
    secure: tuple[Lwm2mServer, Events], suite: str
) -> None:
    lwm2m, events = secure
    name = f"openssl-{suite.lower()}"
    lwm2m.security.set(name, f"{name}-id", KEY)
    device = await OpenSslDevice.connect(lwm2m.coaps_port, f"{name}-id", KEY, SUITES[suite])
    try:
        created = await device.request(register(name))
        assert created.code == Code.CREATED
        await events.wait("endpoint_registered", name)
        remote = lwm2m.registrations.get(name).remote
        assert remote.cipher == SUITES[suite]
        assert lwm2m.registrations.get(name).registration.identity == f"{name}-id"

        # a request of the gateway's own goes out over the device's session
        read = asyncio.create_task(lwm2m.device.read(name, [Path(3, 0, 0)]))
        request = await answer_a_read(device, b"OpenSSL")
        assert (request.code, request.opt.uri_path) == (Code.GET, ("3", "0", "0"))
        (record,) = await read
        assert record.value == "OpenSSL"
    finally:
        await device.stop()


async def test_a_device_that_restarts_on_the_same_port_gets_a_new_session(
    secure: tuple[Lwm2mServer, Events],
) -> None:
    """A restarted device handshakes again from the address of its old session: the new session
    replaces the old one once the cookie proves the address, and the registration follows."""
    lwm2m, events = secure
    lwm2m.security.set("restarts", "restarts-id", KEY)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    first = await OpenSslDevice.connect(
        lwm2m.coaps_port, "restarts-id", KEY, "PSK-AES128-CCM8", port
    )
    created = await first.request(register("restarts"))
    await events.wait("endpoint_registered", "restarts")
    old = lwm2m.registrations.get("restarts").remote
    await first.stop()  # killed: no close_notify, the gateway still holds its session

    second = await OpenSslDevice.connect(
        lwm2m.coaps_port, "restarts-id", KEY, "PSK-AES128-CBC-SHA256", port
    )
    try:
        location = "/".join(created.opt.location_path)
        update = aiocoap.Message(code=Code.POST, uri_path=tuple(location.split("/")))
        update.mtype, update.mid, update.token = Type.CON, 2, b"\x02"
        assert (await second.request(update)).code == Code.CHANGED
        assert old.closed
        assert lwm2m.registrations.get("restarts").remote.cipher == "PSK-AES128-CBC-SHA256"
        read = asyncio.create_task(lwm2m.device.read("restarts", [Path(3, 0, 0)]))
        await answer_a_read(second, b"again")
        assert (await read)[0].value == "again"
    finally:
        await second.stop()


async def test_stray_datagrams_make_no_session_and_a_client_hello_gets_a_cookie_first(
    secure: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, _ = secure
    (transport,) = lwm2m.transport._dtls
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stray:
        stray.setblocking(False)
        target = ("127.0.0.1", lwm2m.coaps_port)
        # application data and garbage from an address without a session: dropped, no state
        stray.sendto(bytes([23, 0xFE, 0xFD, 0, 1]) + bytes(8) + b"\x00\x04abcd", target)
        stray.sendto(b"\xff" * 40, target)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(loop.sock_recv(stray, 2048), 0.5)
        assert not transport._pool.sessions
        # a ClientHello is answered with a HelloVerifyRequest (handshake type 3), no key asked
        hello = bytes.fromhex(
            "16fefd0000000000000000"  # handshake record, DTLS 1.2, epoch 0, sequence 0
            "0036"  # length
            "0100002a000000000000002a"  # ClientHello, message sequence 0, unfragmented
            "fefd" + "00" * 32 + "00"  # version, random, no session id
            "00"  # no cookie
            "0002c0a8"  # one suite: TLS_PSK_WITH_AES_128_CCM_8
            "0100"  # null compression
        )
        stray.sendto(hello, target)
        answer = await asyncio.wait_for(loop.sock_recv(stray, 2048), 5)
        assert (answer[0], answer[13]) == (22, 3)
        assert transport.sessions == 0  # nothing established


async def test_the_tinydtls_simulator_negotiates_the_mandatory_suite(
    secure: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = secure
    lwm2m.security.set("tiny", "tiny-id", KEY)
    await make_device(
        lwm2m, "tiny", server_uri=f"coaps://127.0.0.1:{lwm2m.coaps_port}", psk=("tiny-id", KEY)
    )
    await events.wait("endpoint_registered", "tiny")
    assert lwm2m.registrations.get("tiny").remote.cipher == "PSK-AES128-CCM8"
