"""An independent CoAP peer (libcoap's coap-client-openssl) registers, updates and de-registers."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest

from lwm2m_gateway.server import Lwm2mServer
from tests.gateway.conftest import Events, ServerFactory

CLIENT = shutil.which("coap-client-openssl")
# the same libcoap client over another TLS stack (Debian ships both in libcoap3-bin)
DTLS_CLIENTS = {"openssl": CLIENT, "gnutls": shutil.which("coap-client-gnutls")}


@pytest.fixture(autouse=True)
def require_client() -> None:
    if CLIENT is None:
        if os.environ.get("LWM2M_REQUIRE_PEERS") == "1":
            pytest.fail("coap-client-openssl is required (Debian libcoap3-bin)")
        pytest.skip("coap-client-openssl is not installed (Debian libcoap3-bin)")


async def coap_client(*args: str, binary: str | None = None) -> str:
    binary = binary or CLIENT
    assert binary is not None
    process = await asyncio.create_subprocess_exec(
        binary, "-B", "5", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 20)
    return (out + err).decode()


async def test_libcoap_client_registers_updates_and_deregisters(
    make_server: ServerFactory,
) -> None:
    lwm2m, events = await make_server(initial_read=False)
    base = f"coap://127.0.0.1:{lwm2m.coap_port}"
    await coap_client(
        "-m", "post", "-t", "40", "-e", '</>;rt="oma.lwm2m";ct=110,</3/0>,</3303/0>;ver=1.1',
        f"{base}/rd?ep=libcoap-device&lt=60&lwm2m=1.1&b=U",
    )  # fmt: skip
    registered = await events.wait("endpoint_registered", "libcoap-device")
    assert [o["id"] for o in registered.data["objects"]] == [3, 3303]
    registration_id = registered.data["registration_id"]
    await coap_client("-m", "post", f"{base}/rd/{registration_id}?lt=120")
    await events.wait("endpoint_updated", "libcoap-device")
    assert lwm2m.registrations.describe("libcoap-device")["lifetime"] == 120
    await coap_client("-m", "delete", f"{base}/rd/{registration_id}")
    await events.wait("endpoint_deregistered", "libcoap-device", reason="deregistered")


async def test_libcoap_client_gets_4_00_for_a_register_without_endpoint(
    server: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, _ = server
    output = await coap_client(
        "-m", "post", "-e", "</3/0>", f"coap://127.0.0.1:{lwm2m.coap_port}/rd?lt=60"
    )
    assert "4.00" in output
    assert lwm2m.registrations.names() == []


@pytest.mark.parametrize("stack", sorted(DTLS_CLIENTS))
async def test_libcoap_registers_over_dtls_psk_and_a_wrong_key_is_refused(
    make_server: ServerFactory, stack: str
) -> None:
    binary = DTLS_CLIENTS[stack]
    if binary is None:
        if os.environ.get("LWM2M_REQUIRE_PEERS") == "1":
            pytest.fail(f"coap-client-{stack} is required (Debian libcoap3-bin)")
        pytest.skip(f"coap-client-{stack} is not installed")
    lwm2m, events = await make_server(coaps_port=0, initial_read=False)
    key = "libcoap-secret-key"
    lwm2m.security.set("libcoap-psk", "libcoap-id", key.encode())
    base = f"coaps://127.0.0.1:{lwm2m.coaps_port}"
    await coap_client(
        "-u", "libcoap-id", "-k", key, "-m", "post", "-t", "40", "-e", "</3/0>",
        f"{base}/rd?ep=libcoap-psk&lt=60&lwm2m=1.1", binary=binary,
    )  # fmt: skip
    registered = await events.wait("endpoint_registered", "libcoap-psk")
    assert registered.data["security"] == "psk"
    assert lwm2m.registrations.get("libcoap-psk").registration.identity == "libcoap-id"

    # the same identity with a wrong key: the handshake fails, nothing registers
    wrong = await coap_client(
        "-u", "libcoap-id", "-k", "not-the-key", "-m", "post", "-t", "40", "-e", "</3/0>",
        f"{base}/rd?ep=libcoap-psk&lt=90&lwm2m=1.1", binary=binary,
    )  # fmt: skip
    assert "2.01" not in wrong
    assert lwm2m.registrations.get("libcoap-psk").registration.lifetime == 60
    # and plain CoAP for the credentialed endpoint gets 4.03
    plain = await coap_client(
        "-m", "post", "-t", "40", "-e", "</3/0>",
        f"coap://127.0.0.1:{lwm2m.coap_port}/rd?ep=libcoap-psk&lt=90",
    )  # fmt: skip
    assert "4.03" in plain
