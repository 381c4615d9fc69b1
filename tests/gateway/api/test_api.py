"""The WebSocket API (docs/protocol.md) against a real gateway and simulated devices."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path as FilePath
from typing import Any

import aiohttp
import pytest

from lwm2m_gateway.api import SCHEMA_VERSION
from lwm2m_gateway.app import Gateway
from lwm2m_gateway.config import load_config
from lwm2m_gateway.simulator import SimulatedDevice


class Client:
    """A test client speaking the protocol: commands by id, events collected."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, info: dict[str, Any]) -> None:
        self.ws = ws
        self.info = info
        self.next_id = 0
        self.results: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.event_added = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            message = frame.json()
            if message["type"] == "result":
                future = self.results.pop(message["message_id"], None)
                if future is not None:
                    future.set_result(message)
            else:
                self.events.append(message)
                self.event_added.set()

    async def call(self, command: str, **args: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.results[self.next_id] = future
        await self.ws.send_json({"message_id": self.next_id, "command": command, "args": args})
        return await asyncio.wait_for(future, 15)

    async def raw(self, text: str, message_id: Any = None) -> dict[str, Any]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.results[message_id] = future
        await self.ws.send_str(text)
        return await asyncio.wait_for(future, 5)

    async def event(self, name: str, **data: Any) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                for event in self.events:
                    if event["event"] == name and all(
                        event["data"].get(k) == v for k, v in data.items()
                    ):
                        return event
                self.event_added.clear()
                await self.event_added.wait()

        return await asyncio.wait_for(find(), 10)


async def listen_for(client: Client, endpoint: str) -> None:
    """start_listening, and wait until the endpoint's inventory is done (before or after), so
    the test's requests are the only ones the device gets."""
    listening = await client.call("start_listening")
    known = {e["endpoint"]: e for e in listening["result"]["endpoints"]}
    if known.get(endpoint, {}).get("inventoried_at") is None:
        await client.event("endpoint_inventoried", endpoint=endpoint)


@pytest.fixture
async def gateway(tmp_path: FilePath) -> AsyncIterator[Gateway]:
    config = load_config(
        None,
        {
            "coap_port": 0,
            "coaps_port": 0,
            "api_port": 0,
            "data_dir": str(tmp_path),
            "request_timeout": 5,
        },
    )
    gateway = Gateway(config)
    await gateway.start()
    yield gateway
    await gateway.stop()


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session, session.ws_connect(gateway.api.url) as ws:
        info = await ws.receive_json()
        client = Client(ws, info)
        yield client
        client.reader.cancel()


@pytest.fixture
async def device(gateway: Gateway) -> AsyncIterator[SimulatedDevice]:
    device = SimulatedDevice("api-dev", f"coap://127.0.0.1:{gateway.server.coap_port}")
    await device.start()
    yield device
    await device.stop()


async def test_server_info_comes_first(client: Client, gateway: Gateway) -> None:
    assert client.info == {
        "type": "server_info",
        "schema_version": SCHEMA_VERSION,
        "min_supported_schema_version": 1,
        "gateway_version": "0.1.0",
        "gateway_id": gateway.store.gateway_id,
        "device_uris": {
            "coap": f"coap://127.0.0.1:{gateway.server.coap_port}",
            "coaps": f"coaps://127.0.0.1:{gateway.server.coaps_port}",
        },
    }


async def test_start_listening_returns_state_then_streams_events(
    client: Client, gateway: Gateway
) -> None:
    result = await client.call("start_listening")
    assert result["success"] is True
    assert result["result"] == {"endpoints": []}
    device = SimulatedDevice("late", f"coap://127.0.0.1:{gateway.server.coap_port}")
    await device.start()
    try:
        registered = await client.event("endpoint_registered", endpoint="late")
        assert registered["data"]["online"] is True
        observed = await client.call("observe", endpoint="late", path="/3303/0/5700")
        assert observed["result"]["values"][0]["value"] == 21.5
        device.set_value("/3303/0/5700", 26.5)
        changed = await client.event("resource_changed", endpoint="late", value=26.5)
        assert changed["data"]["path"] == "/3303/0/5700"
        again = await client.call("start_listening")
        assert [e["endpoint"] for e in again["result"]["endpoints"]] == ["late"]
    finally:
        await device.deregister()
        await device.stop()
    gone = await client.event("endpoint_deregistered", endpoint="late")
    assert gone["data"]["reason"] == "deregistered"


async def test_commands_reach_the_device(
    client: Client, device: SimulatedDevice, gateway: Gateway
) -> None:
    await listen_for(client, "api-dev")
    read = await client.call("read", endpoint="api-dev", path="/3/0/0")
    assert read["result"]["values"] == [{"path": "/3/0/0", "value": "ha-lwm2m", "timestamp": None}]
    composite = await client.call("read", endpoint="api-dev", paths=["/3/0/9", "/3303/0/5700"])
    assert {v["path"] for v in composite["result"]["values"]} == {"/3/0/9", "/3303/0/5700"}
    assert (await client.call("write", endpoint="api-dev", path="/3312/0/5850", value=True))[
        "success"
    ]
    assert device.value("/3312/0/5850") is True
    instance = await client.call(
        "write", endpoint="api-dev", path="/3311/0", values={"5851": 30, "5850": 1}
    )
    assert instance["success"], instance
    assert device.value("/3311/0/5851") == 30
    assert device.value("/3311/0/5850") is True  # 1 typed as the model's boolean
    composite_write = await client.call("write", endpoint="api-dev", values={"/3312/0/5850": False})
    assert composite_write["success"], composite_write
    assert device.value("/3312/0/5850") is False
    assert (await client.call("execute", endpoint="api-dev", path="/3/0/4", args="0"))["success"]
    assert device.executed[-1][1] == "0"
    attributes = await client.call(
        "write_attributes", endpoint="api-dev", path="/3303/0/5700", pmin=1, pmax=30
    )
    assert attributes["success"]
    links = await client.call("discover", endpoint="api-dev", path="/3303/0")
    assert {"path": "/3303/0/5700", "attributes": {"pmin": "1", "pmax": "30"}} in links["result"][
        "links"
    ]
    created = await client.call("create", endpoint="api-dev", path="/3303", values={"5700": 3})
    assert created["result"]["path"].startswith("/3303/")
    assert (await client.call("delete", endpoint="api-dev", path=created["result"]["path"]))[
        "success"
    ]
    model = await client.call("get_object_model", object_id=3303)
    assert model["result"]["objects"][0]["name"] == "Temperature"
    endpoint = await client.call("get_endpoint", endpoint="api-dev")
    assert endpoint["result"]["endpoint"] == "api-dev"
    removed = await client.call("remove_endpoint", endpoint="api-dev")
    assert removed["success"]
    assert (await client.event("endpoint_deregistered", endpoint="api-dev"))["data"][
        "reason"
    ] == "removed"


@pytest.mark.parametrize(
    ("command", "args", "code", "message"),
    [
        ("fly", {}, "unknown_command", "unknown command 'fly'"),
        ("read", {"path": "/3/0"}, "invalid_args", "endpoint"),
        ("read", {"endpoint": "x", "path": "/3/a"}, "invalid_args", "path"),
        ("read", {"endpoint": "x"}, "invalid_args", "path: required"),
        ("read", {"endpoint": "nobody", "path": "/3/0"}, "unknown_endpoint", "nobody"),
        (
            "write_attributes",
            {"endpoint": "x", "path": "/3/0", "pmin": "soon"},
            "invalid_args",
            "pmin",
        ),
        ("execute", {"endpoint": "x", "path": "/3/0"}, "invalid_args", "not a resource"),
    ],
)
async def test_bad_commands_get_error_codes_naming_the_field(
    client: Client, command: str, args: dict[str, Any], code: str, message: str
) -> None:
    result = await client.call(command, **args)
    assert result["success"] is False
    assert result["error_code"] == code
    assert message in result["details"]["message"]


async def test_a_wrongly_typed_write_names_the_type(
    client: Client, device: SimulatedDevice
) -> None:
    await listen_for(client, "api-dev")
    result = await client.call("write", endpoint="api-dev", path="/3311/0/5851", value="bright")
    assert result["error_code"] == "invalid_args"
    assert "integer" in result["details"]["message"]
    refused = await client.call("write", endpoint="api-dev", path="/3303/0/5700", value=1.0)
    assert refused["error_code"] == "method_not_allowed"
    assert refused["details"]["coap_code"] == "4.05"


@pytest.mark.parametrize(
    ("frame", "message_id"),
    [("{not json", None), ("[1, 2]", None), ('{"message_id": 7}', 7), ('"text"', None)],
)
async def test_malformed_frames_are_invalid_message_and_the_connection_stays(
    client: Client, frame: str, message_id: Any
) -> None:
    reply = await client.raw(frame, message_id)
    assert reply["error_code"] == "invalid_message"
    assert (await client.call("get_object_model", object_id=3))["success"]


async def test_token_is_required_when_configured(tmp_path: FilePath) -> None:
    config = load_config(
        None,
        {
            "coap_port": 0,
            "coaps_port": 0,
            "api_port": 0,
            "data_dir": str(tmp_path),
            "token": "s3cret-token",
        },
    )
    gateway = Gateway(config)
    await gateway.start()
    try:
        async with aiohttp.ClientSession() as session:
            for headers in ({}, {"Authorization": "Bearer wrong-token"}):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(gateway.api.url, headers=headers)
                assert refused.value.status == 401
            headers = {"Authorization": "Bearer s3cret-token"}
            async with session.ws_connect(gateway.api.url, headers=headers) as ws:
                assert (await ws.receive_json())["type"] == "server_info"
    finally:
        await gateway.stop()


async def test_observe_and_cancel_observe_over_the_api(
    client: Client, device: SimulatedDevice
) -> None:
    await listen_for(client, "api-dev")
    observed = await client.call("observe", endpoint="api-dev", path="/3303/0/5700")
    assert observed["result"]["values"][0]["value"] == 21.5
    sentinel = await client.call("observe", endpoint="api-dev", path="/3304/0/5700")
    assert sentinel["success"], sentinel
    device.set_value("/3303/0/5700", 24.0)
    await client.event("resource_changed", endpoint="api-dev", path="/3303/0/5700", value=24.0)

    cancelled = await client.call("cancel_observe", endpoint="api-dev", path="/3303/0/5700")
    assert cancelled == {**cancelled, "success": True, "result": {}}
    assert device.requests[-1] == ("GET", "/3303/0/5700")  # the active cancel reached it
    device.set_value("/3303/0/5700", 26.0)
    device.set_value("/3304/0/5700", 61.0)
    await client.event("resource_changed", endpoint="api-dev", path="/3304/0/5700", value=61.0)
    values = [
        e["data"]["value"]
        for e in client.events
        if e["event"] == "resource_changed" and e["data"]["path"] == "/3303/0/5700"
    ]
    assert 26.0 not in values  # had it come, it would have come before the sentinel's
    unknown = await client.call("cancel_observe", endpoint="nobody", path="/3303/0/5700")
    assert unknown["error_code"] == "unknown_endpoint"


async def test_firmware_reset_over_the_api_clears_the_package_uri(
    client: Client, device: SimulatedDevice
) -> None:
    await listen_for(client, "api-dev")
    device.set_value("/5/0/1", "coap://127.0.0.1/old-image")
    reset = await client.call("firmware_reset", endpoint="api-dev")
    assert reset["success"], reset
    assert device.requests[-1] == ("PUT", "/5/0/1")
    assert device.value("/5/0/1") == ""  # an empty Package URI resets the state machine
    unknown = await client.call("firmware_reset", endpoint="nobody")
    assert unknown["error_code"] == "unknown_endpoint"


async def test_credentials_over_the_api_never_echo_the_key(client: Client) -> None:
    key = "00112233445566778899aabbccddeeff"
    frames: list[str] = []
    original = client.ws.receive

    async def recording(*args: Any, **kwargs: Any) -> Any:
        frame = await original(*args, **kwargs)
        frames.append(str(frame.data))
        return frame

    client.ws.receive = recording  # type: ignore[method-assign]
    created = await client.call("set_credentials", endpoint="nrf", identity="nrf-id", key=key)
    assert created["result"] == {"endpoint": "nrf", "identity": "nrf-id", "mode": "psk"}
    listed = await client.call("list_credentials")
    assert listed["result"]["credentials"] == [
        {"endpoint": "nrf", "identity": "nrf-id", "mode": "psk"}
    ]
    bad_hex = await client.call("set_credentials", endpoint="x", identity="x-id", key="zz")
    assert (bad_hex["error_code"], bad_hex["details"]["field"]) == ("invalid_args", "key")
    taken = await client.call("set_credentials", endpoint="other", identity="nrf-id", key=key)
    assert taken["error_code"] == "bad_request"
    assert "already belongs to 'nrf'" in taken["details"]["message"]
    assert (await client.call("remove_credentials", endpoint="nrf"))["success"]
    assert (await client.call("list_credentials"))["result"]["credentials"] == []
    again = await client.call("remove_credentials", endpoint="nrf")
    assert again["error_code"] == "bad_request"
    assert not any(key in frame for frame in frames)


async def test_pending_devices_are_approved_or_rejected_over_the_api(tmp_path: FilePath) -> None:
    config = load_config(
        None,
        {"coap_port": 0, "coaps_port": 0, "api_port": 0, "data_dir": str(tmp_path),
         "unknown_endpoints": "approve", "request_timeout": 5},
    )  # fmt: skip
    gateway = Gateway(config)
    await gateway.start()
    devices = []
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(gateway.api.url) as ws:
            client = Client(ws, await ws.receive_json())
            await client.call("start_listening")
            for name in ("welcome", "unwanted"):
                device = SimulatedDevice(name, f"coap://127.0.0.1:{gateway.server.coap_port}")
                await device.start()
                devices.append(device)
                pending = await client.event("endpoint_pending", endpoint=name)
                assert pending["data"]["address"] == f"127.0.0.1:{device.port}"
            listed = await client.call("list_pending")
            assert listed["result"]["policy"] == "approve"
            assert [p["endpoint"] for p in listed["result"]["pending"]] == ["welcome", "unwanted"]

            approved = await client.call("approve_endpoint", endpoint="welcome")
            assert approved["result"] == {"endpoint": "welcome", "registered": True}
            await client.event("endpoint_approved", endpoint="welcome")
            await client.event("endpoint_registered", endpoint="welcome")
            rejected = await client.call("reject_endpoint", endpoint="unwanted")
            assert rejected["success"]
            await client.event("endpoint_rejected", endpoint="unwanted")
            assert (await client.call("list_pending"))["result"]["pending"] == []
            endpoints = await client.call("start_listening")
            assert [e["endpoint"] for e in endpoints["result"]["endpoints"]] == ["welcome"]
            client.reader.cancel()
    finally:
        for device in devices:
            await device.stop()
        await gateway.stop()


async def test_bootstrap_settings_and_rebootstrap_over_the_api(
    client: Client, gateway: Gateway
) -> None:
    await client.call("start_listening")
    configured = await client.call("set_bootstrap_config", endpoint="bs-api", lifetime=90)
    assert configured["result"] == {
        "endpoint": "bs-api", "lifetime": 90, "binding": "U", "notification_storing": True,
    }  # fmt: skip
    bad = await client.call("set_bootstrap_config", endpoint="bs-api", binding="X")
    assert (bad["error_code"], "b='X'" in bad["details"]["message"]) == ("bad_request", True)
    device = SimulatedDevice(
        "bs-api", f"coap://127.0.0.1:{gateway.server.coap_port}", bootstrap=True
    )
    await device.start()
    try:
        done = await client.event("endpoint_bootstrapped", endpoint="bs-api")
        assert done["data"]["server_uri"] == f"coap://127.0.0.1:{gateway.server.coap_port}"
        registered = await client.event("endpoint_registered", endpoint="bs-api")
        assert registered["data"]["lifetime"] == 90
        client.events.clear()
        triggered = await client.call("rebootstrap", endpoint="bs-api")
        assert triggered["result"] == {"endpoint": "bs-api", "path": "/1/0/9"}
        await client.event("endpoint_bootstrapped", endpoint="bs-api")
        unknown = await client.call("rebootstrap", endpoint="nobody")
        assert unknown["error_code"] == "unknown_endpoint"
    finally:
        await device.stop()


ABUSIVE = {
    "nested-args": ('{"message_id": 1, "command": "read", "args": ' + "[" * 5000 + "]" * 5000 + "}",
                    1, "deep"),
    "nested-frame": ("[" * 100000 + "]" * 100000, None, "deep"),
    "nan": ('{"message_id": 2, "command": "write_attributes", "args": {"pmin": NaN}}', None,
            "not JSON"),
    "infinity": ('{"message_id": 3, "command": "read", "args": {"x": Infinity}}', None,
                 "not JSON"),
    "object-id": ('{"message_id": {"a": 1}, "command": "read"}', None, "message_id"),
    "float-id": ('{"message_id": 1.5, "command": "read"}', None, "message_id"),
    "bool-id": ('{"message_id": true, "command": "read"}', None, "message_id"),
}  # fmt: skip


@pytest.mark.parametrize("case", ABUSIVE)
async def test_abusive_frames_are_invalid_messages_and_the_connection_stays(
    client: Client, case: str
) -> None:
    frame, message_id, reason = ABUSIVE[case]
    answer = await client.raw(frame, message_id=message_id)
    assert answer["error_code"] == "invalid_message"
    assert reason in answer["details"]["message"]
    assert (await client.call("get_object_model", object_id=3))["success"]


async def test_a_client_that_never_reads_is_cut_off_by_bytes_not_frames(gateway: Gateway) -> None:
    from lwm2m_gateway.api.server import SEND_BUDGET

    async with aiohttp.ClientSession() as session, session.ws_connect(gateway.api.url) as ws:
        await ws.receive_json()
        (connection,) = gateway.api.connections
        for n in range(200):  # every answer is the whole object model (about 1 MB)
            await ws.send_json({"message_id": n, "command": "get_object_model", "args": {}})
            if connection.dropped:
                break
            await asyncio.sleep(0.01)
        assert connection.dropped
        assert connection.queued <= SEND_BUDGET
    assert await_closed(gateway)


def await_closed(gateway: Gateway) -> bool:
    return all(c.dropped or c.ws.closed for c in gateway.api.connections)


async def test_api_clients_are_capped(gateway: Gateway) -> None:
    from lwm2m_gateway.api.server import MAX_CONNECTIONS

    async with aiohttp.ClientSession() as session:
        sockets = [await session.ws_connect(gateway.api.url) for _ in range(MAX_CONNECTIONS)]
        try:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(gateway.api.url)
            assert refused.value.status == 503
        finally:
            for ws in sockets:
                await ws.close()


async def frames_after_a_read(
    gateway: Gateway, device: SimulatedDevice, **listen: Any
) -> list[Any]:
    """The frames a client gets for a Read that changes three values at once."""
    async with aiohttp.ClientSession() as session, session.ws_connect(gateway.api.url) as ws:
        await ws.receive_json()  # server_info
        await ws.send_json({"message_id": 1, "command": "start_listening", "args": listen})
        while not isinstance(started := await ws.receive_json(), dict) or "endpoints" not in (
            started.get("result") or {}
        ):
            pass  # events of the device's registration may come first
        for path, value in (("/3303/0/5700", 30.5), ("/3303/0/5601", 1.5), ("/3303/0/5602", 40.5)):
            device.set_value(path, value)
        await ws.send_json(
            {"message_id": 2, "command": "read", "args": {"endpoint": "api-dev", "path": "/3303/0"}}
        )
        frames: list[Any] = []
        while not any(
            m.get("message_id") == 2 for f in frames for m in (f if isinstance(f, list) else [f])
        ):
            frames.append(await asyncio.wait_for(ws.receive_json(), 10))
        return frames


async def test_a_client_that_asks_gets_what_is_queued_together_in_one_frame(
    gateway: Gateway, device: SimulatedDevice
) -> None:
    await asyncio.sleep(0.5)  # the registration's own events have gone out
    frames = await frames_after_a_read(gateway, device, coalesce=True)
    batch = frames[-1]  # the one with the Read's answer
    assert isinstance(batch, list)
    changed = {m["data"]["path"]: m["data"]["value"] for m in batch if m["type"] == "event"}
    assert {"/3303/0/5700": 30.5, "/3303/0/5601": 1.5, "/3303/0/5602": 40.5}.items() <= (
        changed.items()
    )
    assert batch[-1]["type"] == "result"
    assert batch[-1]["success"] is True


async def test_a_client_that_does_not_ask_gets_one_message_per_frame(
    gateway: Gateway, device: SimulatedDevice
) -> None:
    await asyncio.sleep(0.5)
    frames = await frames_after_a_read(gateway, device)
    assert all(isinstance(f, dict) for f in frames)
    changed = {f["data"]["path"] for f in frames if f["type"] == "event"}
    assert {"/3303/0/5700", "/3303/0/5601", "/3303/0/5602"} <= changed


async def test_coalesce_must_be_a_boolean(client: Client) -> None:
    answer = await client.call("start_listening", coalesce="yes")
    assert answer["success"] is False
    assert answer["error_code"] == "invalid_args" or "coalesce" in str(answer["details"])


async def test_frames_go_uncompressed_even_when_the_client_offers_deflate(gateway: Gateway) -> None:
    """On a local link per-frame deflate only costs both ends CPU: the offer is declined."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(gateway.api.url, compress=15) as ws,  # offers permessage-deflate
    ):
        assert ws.compress == 0
        info = await ws.receive_json()
        assert info["type"] == "server_info"
