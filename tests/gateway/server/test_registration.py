"""Registration interface (LwM2M 1.1 core §6.2): Register, Update, De-register, lifetime."""

from __future__ import annotations

import asyncio

import aiocoap
import pytest
from aiocoap.numbers.codes import Code

from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.server import Lwm2mServer
from tests.gateway.conftest import DeviceFactory, Events, ServerFactory


async def coap(server: Lwm2mServer, code: Code, path: str, **options: object) -> aiocoap.Message:
    context = await aiocoap.Context.create_client_context()
    try:
        message = aiocoap.Message(
            code=code, uri=f"coap://127.0.0.1:{server.coap_port}{path}", **options
        )
        response: aiocoap.Message = await asyncio.wait_for(context.request(message).response, 10)
        return response
    finally:
        await context.shutdown()


async def test_register_reads_the_device_and_announces_it(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "sensor-1", lifetime=120)
    registered = await events.wait("endpoint_registered", "sensor-1")
    assert registered.data["inventoried_at"] is None  # announced at once, inventoried after
    event = await events.wait("endpoint_inventoried", "sensor-1")
    assert device.location == f"/rd/{event.data['registration_id']}"
    state = event.data
    assert state["inventoried_at"] is not None
    assert state["lifetime"] == 120
    assert state["online"] is True
    assert state["lwm2m_version"] == "1.1"
    objects = {o["id"]: o for o in state["objects"]}
    assert objects[3303]["name"] == "Temperature"
    assert objects[3303]["version"] == "1.1"
    resources = {r["id"]: r for r in objects[3303]["instances"][0]["resources"]}
    assert resources[5700]["value"] == 21.5
    assert resources[5700]["type"] == "float"
    assert resources[5605]["operations"] == "E"  # executable, known from Discover
    device_resources = {r["id"]: r for r in objects[3]["instances"][0]["resources"]}
    assert device_resources[6]["value"] == {"0": 1, "1": 5}


async def test_update_without_payload_extends_the_lifetime(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "dev", lifetime=60, auto_update=False)
    await events.wait("endpoint_registered", "dev")
    await device.update(lifetime=90)
    await events.wait("endpoint_updated", "dev")
    assert lwm2m.registrations.describe("dev")["lifetime"] == 90


async def test_update_from_a_new_address_follows_the_device(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    first = await make_device(lwm2m, "roamer", auto_update=False)
    await events.wait("endpoint_registered", "roamer")
    location = first.location
    await first.stop()
    second = await make_device(lwm2m, "other", auto_update=False)  # a new socket
    second.endpoint = "roamer"
    second.location = location
    await second.update()
    assert lwm2m.registrations.describe("roamer")["address"] == f"127.0.0.1:{second.port}"
    second.set_value("/3303/0/5700", 12.5)
    (record,) = await lwm2m.device.read("roamer", [Path(3303, 0, 5700)])
    assert record.value == 12.5


async def test_deregister_forgets_the_endpoint(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "bye")
    await events.wait("endpoint_registered", "bye")
    await device.deregister()
    event = await events.wait("endpoint_deregistered", "bye")
    assert event.data["reason"] == "deregistered"
    assert "bye" not in lwm2m.registrations.names()
    assert lwm2m.store.load_registrations() == {}


async def test_lifetime_expiry_deregisters_with_reason_expired(
    make_server: ServerFactory, make_device: DeviceFactory
) -> None:
    lwm2m, events = await make_server(expiry_grace=0.0)
    await make_device(lwm2m, "short", lifetime=1, auto_update=False)
    event = await events.wait("endpoint_deregistered", "short", wait_s=5)
    assert event.data["reason"] == "expired"


async def test_register_again_replaces_the_old_registration(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "again", auto_update=False)
    await events.wait("endpoint_registered", "again")
    old = device.location
    await device.register()
    assert device.location != old
    update = await coap(lwm2m, Code.POST, str(old))
    assert update.code == Code.NOT_FOUND


@pytest.mark.parametrize(
    ("query", "payload", "message"),
    [
        (["lt=60"], b"</3/0>", b"endpoint name"),
        (["ep=x", "lt=soon"], b"</3/0>", b"lt must be"),
        (["ep=x", "lwm2m=9.9"], b"</3/0>", b"lwm2m=9.9"),
        (["ep=x", "b=Z"], b"</3/0>", b"not a binding"),
        (["ep=x"], b"</3/0", b"link format"),
        (["ep=x"], b"</3/0/1>", b"not an object or instance link"),
        (["ep=x"], b'</>;rt="oma.lwm2m";ct=abc', b"ct="),
    ],
)
async def test_malformed_register_gets_a_precise_4_00(
    server: tuple[Lwm2mServer, Events], query: list[str], payload: bytes, message: bytes
) -> None:
    lwm2m, _ = server
    response = await coap(lwm2m, Code.POST, "/rd", uri_query=query, payload=payload)
    assert response.code == Code.BAD_REQUEST
    assert message in response.payload
    assert lwm2m.registrations.names() == []


async def test_unknown_registration_update_and_delete_are_4_04(
    server: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, _ = server
    assert (await coap(lwm2m, Code.POST, "/rd/nope")).code == Code.NOT_FOUND
    assert (await coap(lwm2m, Code.DELETE, "/rd/nope")).code == Code.NOT_FOUND
    assert (await coap(lwm2m, Code.GET, "/elsewhere")).code == Code.NOT_FOUND


async def test_alternate_root_path_is_used_for_requests(
    server: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, _ = server
    payload = b'</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>,</lwm2m/3303/0>;ver=1.1'
    response = await coap(lwm2m, Code.POST, "/rd", uri_query=["ep=alt", "lt=60"], payload=payload)
    assert response.code == Code.CREATED
    state = lwm2m.registrations.describe("alt")
    assert state["root_path"] == "/lwm2m"
    assert [o["id"] for o in state["objects"]] == [3, 3303]


async def test_a_register_the_store_cannot_keep_is_5_03_and_changes_nothing(
    make_server: ServerFactory, make_device: DeviceFactory
) -> None:
    lwm2m, events = await make_server()
    await make_device(lwm2m, "kept", auto_update=False)
    await events.wait("endpoint_registered", "kept")
    before = lwm2m.registrations.get("kept").registration
    lwm2m.store._db.execute("PRAGMA query_only = ON")  # type: ignore[attr-defined]
    response = await coap(
        lwm2m, Code.POST, "/rd", uri_query=["ep=newcomer", "lt=60"], payload=b"</3/0>"
    )
    assert response.code == Code.SERVICE_UNAVAILABLE
    assert "newcomer" not in lwm2m.registrations.names()  # not in the API either
    update = await coap(lwm2m, Code.POST, f"/rd/{before.registration_id}", uri_query=["lt=99"])
    assert update.code == Code.SERVICE_UNAVAILABLE
    assert lwm2m.registrations.get("kept").registration.lifetime == before.lifetime
    lwm2m.store._db.execute("PRAGMA query_only = OFF")  # type: ignore[attr-defined]
    again = await coap(
        lwm2m, Code.POST, "/rd", uri_query=["ep=newcomer", "lt=60"], payload=b"</3/0>"
    )
    assert again.code == Code.CREATED
