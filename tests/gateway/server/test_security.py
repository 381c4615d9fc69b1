"""Security (LwM2M 1.1 transport §5.2): DTLS-PSK, per-endpoint credentials, who may register.

Every DTLS exchange here is real: the simulated device runs aiocoap's tinydtls client against
the gateway's DTLS listener on loopback.
"""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path as FilePath

import pytest
from aiocoap.numbers.codes import Code

from lwm2m_gateway.lwm2m.errors import BadRequest
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.lwm2m.values import Record
from lwm2m_gateway.server import Lwm2mServer
from lwm2m_gateway.simulator import SimulatedDevice
from lwm2m_gateway.store import FILE_NAME
from tests.gateway.conftest import DeviceFactory, Events, ServerFactory, until
from tests.gateway.server.test_registration import coap

KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")


async def secure_device(
    lwm2m: Lwm2mServer, make_device: DeviceFactory, name: str, identity: str, key: bytes = KEY
) -> SimulatedDevice:
    return await make_device(
        lwm2m, name, server_uri=f"coaps://127.0.0.1:{lwm2m.coaps_port}", psk=(identity, key)
    )


@pytest.fixture
async def secure(make_server: ServerFactory) -> tuple[Lwm2mServer, Events]:
    return await make_server(coaps_port=0)


async def test_a_device_with_credentials_is_managed_entirely_over_dtls(
    secure: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = secure
    lwm2m.security.set("nrf91", "nrf91-id", KEY)
    device = await secure_device(lwm2m, make_device, "nrf91", "nrf91-id")
    registered = await events.wait("endpoint_registered", "nrf91")
    assert registered.data["security"] == "psk"
    assert lwm2m.registrations.get("nrf91").registration.identity == "nrf91-id"
    # the inventory read the device over its session
    await events.wait("endpoint_inventoried", "nrf91")
    assert ("GET", "/3303") in device.requests

    (record,) = await lwm2m.device.read("nrf91", [Path(3, 0, 0)])
    assert record.value == "ha-lwm2m"
    composite = await lwm2m.device.read("nrf91", [Path(3, 0, 9), Path(3303, 0, 5700)])
    assert {r.path for r in composite} == {Path(3, 0, 9), Path(3303, 0, 5700)}
    switch = Path(3312, 0, 5850)
    await lwm2m.device.write("nrf91", switch, [Record(switch, True)], replace=True)
    assert device.value(switch) is True
    await lwm2m.device.execute("nrf91", Path(3, 0, 4), "0")
    assert device.executed[-1] == (Path(3, 0, 4), "0")
    await lwm2m.device.write_attributes("nrf91", Path(3303, 0, 5700), {"pmax": 30})
    links = await lwm2m.device.discover("nrf91", Path(3303, 0))
    assert (Path(3303, 0, 5700), {"pmax": "30"}) in links
    created = await lwm2m.device.create("nrf91", Path(3303), [Record(Path(3303, 0, 5700), 4.0)])
    await lwm2m.device.delete("nrf91", created)

    await lwm2m.observations.observe("nrf91", [Path(3303, 0, 5700)])
    device.set_value("/3303/0/5700", 25.5)
    await events.wait("resource_changed", "nrf91", path="/3303/0/5700", value=25.5)
    await lwm2m.observations.cancel_observe("nrf91", [Path(3303, 0, 5700)])

    await device.send([Path(3304, 0, 5700)])  # LwM2M Send over the session
    await events.wait("resource_changed", "nrf91", path="/3304/0/5700")
    await device.update()
    await events.wait("endpoint_updated", "nrf91")
    await device.deregister()
    await events.wait("endpoint_deregistered", "nrf91", reason="deregistered")


async def test_an_endpoint_with_credentials_never_registers_over_plain_coap(
    secure: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = secure
    lwm2m.security.set("locked", "locked-id", KEY)
    with pytest.raises(RuntimeError, match=r"Register answered 4\.03"):
        await make_device(lwm2m, "locked")
    assert lwm2m.registrations.names() == []

    await secure_device(lwm2m, make_device, "locked", "locked-id")
    registration_id = (await events.wait("endpoint_registered", "locked")).data["registration_id"]
    # nobody else can update or de-register it, even knowing its registration id
    update = await coap(lwm2m, Code.POST, f"/rd/{registration_id}", uri_query=["lt=5"])
    assert update.code == Code.FORBIDDEN
    delete = await coap(lwm2m, Code.DELETE, f"/rd/{registration_id}")
    assert delete.code == Code.FORBIDDEN
    hijack = await coap(
        lwm2m, Code.POST, "/rd", uri_query=["ep=locked"], payload=b"</3/0>", content_format=40
    )
    assert hijack.code == Code.FORBIDDEN
    assert lwm2m.registrations.get("locked").registration.lifetime == 300
    assert lwm2m.registrations.get("locked").registration.security == "psk"


async def test_an_identity_speaks_only_for_its_own_endpoint(
    secure: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, _ = secure
    lwm2m.security.set("dev-a", "id-a", KEY)
    lwm2m.security.set("dev-b", "id-b", bytes(16))
    with pytest.raises(RuntimeError, match=r"Register answered 4\.03"):
        await secure_device(lwm2m, make_device, "dev-a", "id-b", bytes(16))
    with pytest.raises(RuntimeError, match=r"Register answered 4\.03"):
        await secure_device(lwm2m, make_device, "no-credentials", "id-b", bytes(16))
    assert lwm2m.registrations.names() == []


async def test_a_wrong_key_never_completes_the_handshake(
    secure: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, _ = secure
    lwm2m.security.set("guessed", "guessed-id", KEY)
    with pytest.raises((RuntimeError, OSError, TimeoutError, Exception)):
        await asyncio.wait_for(
            secure_device(lwm2m, make_device, "guessed", "guessed-id", b"not-the-key"), 5
        )
    assert lwm2m.registrations.names() == []


async def test_credentials_are_validated_stored_and_never_listed_with_their_key(
    make_server: ServerFactory,
) -> None:
    lwm2m, _ = await make_server(coaps_port=0)
    lwm2m.security.set("one", "one-id", KEY)
    with pytest.raises(BadRequest, match="identity: 'one-id' already belongs to 'one'"):
        lwm2m.security.set("two", "one-id", KEY)
    with pytest.raises(BadRequest, match="key: 1 to 64 bytes"):
        lwm2m.security.set("two", "two-id", b"")
    assert lwm2m.security.listing() == [{"endpoint": "one", "identity": "one-id", "mode": "psk"}]
    assert KEY.hex() not in repr(lwm2m.security.credential("one"))
    assert lwm2m.store.load_credentials() == [("one", "one-id", KEY)]


async def test_the_database_is_readable_by_its_owner_only(
    make_server: ServerFactory, tmp_path: FilePath
) -> None:
    await make_server()  # in tmp_path / "data"
    assert stat.S_IMODE((tmp_path / "data" / FILE_NAME).stat().st_mode) == 0o600


async def test_approve_holds_an_unknown_device_until_the_owner_decides(
    make_server: ServerFactory, make_device: DeviceFactory
) -> None:
    lwm2m, events = await make_server(unknown_endpoints="approve")
    device = await make_device(lwm2m, "stranger", auto_update=False)
    pending = await events.wait("endpoint_pending", "stranger")
    assert pending.data["objects"] == sorted(device.instances)
    assert pending.data["address"] == f"127.0.0.1:{device.port}"
    assert lwm2m.registrations.names() == []  # nothing of it is read, stored or shown
    assert device.requests == []
    assert lwm2m.store.load_registrations() == {}
    await device.update()  # a pending device may keep its registration fresh

    assert lwm2m.registrations.approve("stranger") is True
    await events.wait("endpoint_registered", "stranger")
    (record,) = await lwm2m.device.read("stranger", [Path(3, 0, 0)])
    assert record.value == "ha-lwm2m"
    assert lwm2m.admission.decision("stranger") == "approved"


async def test_a_rejected_device_stays_out_even_after_a_restart(
    make_server: ServerFactory, make_device: DeviceFactory, tmp_path: FilePath
) -> None:
    data = tmp_path / "rejecting"
    lwm2m, events = await make_server(data, unknown_endpoints="approve")
    await make_device(lwm2m, "intruder", auto_update=False)
    await events.wait("endpoint_pending", "intruder")
    lwm2m.registrations.reject("intruder")
    assert lwm2m.admission.pending() == []
    with pytest.raises(RuntimeError, match=r"Register answered 4\.03"):
        await make_device(lwm2m, "intruder")
    await lwm2m.stop()

    again, _ = await make_server(data, unknown_endpoints="accept")
    with pytest.raises(RuntimeError, match=r"Register answered 4\.03"):
        await make_device(again, "intruder")
    assert again.registrations.names() == []


async def test_pending_devices_are_bounded_the_oldest_dropped(
    make_server: ServerFactory, make_device: DeviceFactory
) -> None:
    lwm2m, events = await make_server(unknown_endpoints="approve", max_pending=2)
    for name in ("p1", "p2", "p3"):
        await make_device(lwm2m, name, auto_update=False)
        await events.wait("endpoint_pending", name)
    assert [p["endpoint"] for p in lwm2m.admission.pending()] == ["p2", "p3"]
    assert lwm2m.registrations.approve("p1") is False  # dropped: approved for next time


async def test_reject_policy_refuses_unknown_devices(
    make_server: ServerFactory, make_device: DeviceFactory
) -> None:
    lwm2m, _ = await make_server(unknown_endpoints="reject")
    with pytest.raises(RuntimeError, match=r"Register answered 4\.03"):
        await make_device(lwm2m, "unknown")
    lwm2m.registrations.approve("unknown")
    await make_device(lwm2m, "unknown")  # approved: known from now on


async def test_registrations_from_one_host_are_rate_limited(
    make_server: ServerFactory,
) -> None:
    lwm2m, _ = await make_server(register_rate=3, initial_read=False)
    codes = []
    for n in range(5):
        response = await coap(
            lwm2m, Code.POST, "/rd", uri_query=[f"ep=burst-{n}"], payload=b"</3/0>"
        )
        codes.append(response.code)
    assert codes == [Code.CREATED] * 3 + [Code.TOO_MANY_REQUESTS] * 2


async def test_the_number_of_endpoints_is_capped(make_server: ServerFactory) -> None:
    lwm2m, _ = await make_server(max_endpoints=2, initial_read=False)
    codes = []
    for name in ("a", "b", "c", "a"):
        response = await coap(lwm2m, Code.POST, "/rd", uri_query=[f"ep={name}"], payload=b"</3/0>")
        codes.append(response.code)
    # a known endpoint registering again is never refused for the cap
    assert codes == [Code.CREATED, Code.CREATED, Code.SERVICE_UNAVAILABLE, Code.CREATED]


async def test_registration_ids_are_64_random_bits(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    ids = set()
    for name in ("ids-1", "ids-2", "ids-3"):
        await make_device(lwm2m, name)
        ids.add((await events.wait("endpoint_registered", name)).data["registration_id"])
    assert all(len(bytes.fromhex(i)) == 8 for i in ids)
    assert len(ids) == 3
    # tokens on the wire: test_wire.py::test_request_tokens_are_random_64_bit_values


async def test_a_device_reconnecting_with_a_new_session_keeps_its_registration(
    secure: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = secure
    lwm2m.security.set("roamer", "roamer-id", KEY)
    first = await secure_device(lwm2m, make_device, "roamer", "roamer-id")
    registered = await events.wait("endpoint_registered", "roamer")
    location = first.location
    await first.stop()  # its session is gone (as after a NAT rebinding)
    second = SimulatedDevice(
        "roamer", f"coaps://127.0.0.1:{lwm2m.coaps_port}", psk=("roamer-id", KEY),
        auto_update=False,
    )  # fmt: skip
    second.location = location
    await second.start(register=False)
    await second.update()  # the Update over the new session moves the registration to it
    try:
        await until(lambda: lwm2m.registrations.get("roamer").remote is not None)
        (record,) = await lwm2m.device.read("roamer", [Path(3, 0, 0)])
        assert record.value == "ha-lwm2m"
        assert (
            lwm2m.registrations.get("roamer").registration.registration_id
            == (registered.data["registration_id"])
        )
    finally:
        await second.stop()


async def test_dtls_listens_on_every_address_when_bound_to_the_any_address(
    make_server: ServerFactory, make_device: DeviceFactory
) -> None:
    lwm2m, events = await make_server(host="0.0.0.0", coaps_port=0)
    lwm2m.security.set("anywhere", "anywhere-id", KEY)
    await secure_device(lwm2m, make_device, "anywhere", "anywhere-id")
    await events.wait("endpoint_registered", "anywhere")
    (record,) = await lwm2m.device.read("anywhere", [Path(3, 0, 0)])
    assert record.value == "ha-lwm2m"


async def test_a_nosec_endpoint_moving_address_is_logged_with_both(
    server: tuple[Lwm2mServer, Events],
    make_device: DeviceFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lwm2m, events = server
    first = await make_device(lwm2m, "mover", auto_update=False)
    await events.wait("endpoint_registered", "mover")
    second = await make_device(lwm2m, "mover", auto_update=False)
    assert lwm2m.registrations.get("mover").registration.address == f"127.0.0.1:{second.port}"
    moved = [r for r in caplog.records if "registered again from" in r.getMessage()]
    assert len(moved) == 1
    assert moved[0].levelname == "WARNING"
    assert f"127.0.0.1:{first.port}" in moved[0].getMessage()
    assert f"127.0.0.1:{second.port}" in moved[0].getMessage()


async def test_refusals_are_logged_at_most_once_a_minute_per_source(
    make_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    lwm2m, _ = await make_server(register_rate=1, initial_read=False)
    for n in range(6):
        await coap(lwm2m, Code.POST, "/rd", uri_query=[f"ep=flood-{n}"], payload=b"</3/0>")
    refused = [r for r in caplog.records if "Refusing registrations from" in r.getMessage()]
    assert len(refused) == 1
