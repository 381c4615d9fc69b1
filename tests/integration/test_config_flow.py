"""Config flow: user, errors, zeroconf, reauth, reconfigure, against real gateways."""

from __future__ import annotations

from collections.abc import AsyncIterator
from ipaddress import ip_address
from pathlib import Path as FilePath
from typing import Any

import pytest
from aiohttp import web
from homeassistant.config_entries import SOURCE_HASSIO, SOURCE_USER, SOURCE_ZEROCONF
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.const import CONF_TOKEN, DOMAIN
from lwm2m_gateway.app import Gateway
from tests.integration.conftest import start_gateway


@pytest.fixture(autouse=True)
def no_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flow tests stop at the entry: setting it up is test_init's business."""

    async def no_op(*args: Any) -> bool:
        return True

    monkeypatch.setattr("custom_components.lwm2m.async_setup_entry", no_op)


@pytest.fixture
async def fake_gateway(loopback: None) -> AsyncIterator[tuple[dict[str, Any], int]]:
    """A peer that says whatever server_info a test wants (to test schema windows)."""
    info: dict[str, Any] = {}

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json(info)
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/ws", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield info, port
    await runner.cleanup()


async def user_flow(hass: HomeAssistant, **data: Any) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    return await hass.config_entries.flow.async_configure(result["flow_id"], data)


async def test_user_flow_creates_an_entry_named_by_the_gateway(
    hass: HomeAssistant, gateway: Gateway
) -> None:
    result = await user_flow(hass, host="127.0.0.1", port=gateway.api.port, token="")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_HOST: "127.0.0.1", CONF_PORT: gateway.api.port}
    assert result["result"].unique_id == gateway.store.gateway_id


async def test_the_same_gateway_twice_is_aborted(hass: HomeAssistant, gateway: Gateway) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id=gateway.store.gateway_id, data={}).add_to_hass(hass)
    result = await user_flow(hass, host="127.0.0.1", port=gateway.api.port, token="")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_nothing_listening_is_cannot_connect(hass: HomeAssistant, loopback: None) -> None:
    result = await user_flow(hass, host="127.0.0.1", port=9, token="")
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_wrong_token_is_invalid_auth_and_the_right_one_works(
    hass: HomeAssistant, loopback: None, tmp_path: FilePath
) -> None:
    gateway = await start_gateway(tmp_path, token="correct-horse")
    try:
        result = await user_flow(hass, host="127.0.0.1", port=gateway.api.port, token="wrong-one")
        assert result["errors"] == {"base": "invalid_auth"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {"host": "127.0.0.1", "port": gateway.api.port, "token": "correct-horse"},
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"][CONF_TOKEN] == "correct-horse"
    finally:
        await gateway.stop()


@pytest.mark.parametrize(
    ("schema", "min_supported", "error"),
    [(0, 0, "gateway_too_old"), (8, 6, "gateway_too_new")],
)
async def test_schema_outside_the_window_names_the_side_to_upgrade(
    hass: HomeAssistant,
    fake_gateway: tuple[dict[str, Any], int],
    schema: int,
    min_supported: int,
    error: str,
) -> None:
    info, port = fake_gateway
    info.update(type="server_info", schema_version=schema,
                min_supported_schema_version=min_supported, gateway_id="x")  # fmt: skip
    result = await user_flow(hass, host="127.0.0.1", port=port, token="")
    assert result["errors"] == {"base": error}


async def test_zeroconf_discovery_then_confirm(hass: HomeAssistant, gateway: Gateway) -> None:
    info = ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        hostname="gateway.local.",
        name="ha-lwm2m._lwm2m-gateway._tcp.local.",
        port=gateway.api.port,
        type="_lwm2m-gateway._tcp.local.",
        properties={"gateway_id": gateway.store.gateway_id},
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=info
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"token": ""})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == gateway.store.gateway_id


async def test_zeroconf_without_gateway_id_is_not_ours(hass: HomeAssistant) -> None:
    info = ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"), ip_addresses=[ip_address("127.0.0.1")],
        hostname="x.local.", name="x", port=1, type="_lwm2m-gateway._tcp.local.", properties={},
    )  # fmt: skip
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=info
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_lwm2m_gateway"


async def test_reauth_stores_the_new_token(
    hass: HomeAssistant, loopback: None, tmp_path: FilePath
) -> None:
    gateway = await start_gateway(tmp_path, token="new-token-1")
    try:
        entry = MockConfigEntry(
            domain=DOMAIN, unique_id=gateway.store.gateway_id,
            data={CONF_HOST: "127.0.0.1", CONF_PORT: gateway.api.port, CONF_TOKEN: "old-token"},
        )  # fmt: skip
        entry.add_to_hass(hass)
        result = await entry.start_reauth_flow(hass)
        assert result["step_id"] == "reauth_confirm"
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {"token": "bad"})
        assert result["errors"] == {"base": "invalid_auth"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"token": "new-token-1"}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reauth_successful"
        assert entry.data[CONF_TOKEN] == "new-token-1"
    finally:
        await gateway.stop()


async def test_reconfigure_moves_to_a_new_port_of_the_same_gateway(
    hass: HomeAssistant, gateway: Gateway
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=gateway.store.gateway_id,
        data={CONF_HOST: "127.0.0.1", CONF_PORT: 9},
    )  # fmt: skip
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": gateway.api.port, "token": ""}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PORT] == gateway.api.port


async def test_reconfigure_to_a_different_gateway_is_refused(
    hass: HomeAssistant, gateway: Gateway
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="another-gateway", data={CONF_HOST: "x", CONF_PORT: 1}
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": gateway.api.port, "token": ""}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_gateway"


async def test_the_gateway_app_is_set_up_from_the_supervisors_discovery_in_one_click(
    hass: HomeAssistant, loopback: None, tmp_path: FilePath
) -> None:
    """What the app's gateway POSTs to the Supervisor reaches the flow as HassioServiceInfo:
    the token it made is used, nobody types it."""
    gateway = await start_gateway(tmp_path, token="app-made-token-0123456789")
    try:
        info = HassioServiceInfo(
            config={"host": "127.0.0.1", "port": gateway.api.port,
                    "token": "app-made-token-0123456789", "gateway_id": gateway.store.gateway_id},
            name="LwM2M Gateway", slug="lwm2m_gateway", uuid="0" * 32,
        )  # fmt: skip
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_HASSIO}, data=info
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "hassio_confirm"
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"] == {
            CONF_HOST: "127.0.0.1", CONF_PORT: gateway.api.port,
            CONF_TOKEN: "app-made-token-0123456789",
        }  # fmt: skip
        assert result["result"].unique_id == gateway.store.gateway_id

        # the app restarts on another address: the entry follows, no second entry
        moved = HassioServiceInfo(
            config={**info.config, "host": "localhost"}, name="LwM2M Gateway",
            slug="lwm2m_gateway", uuid="0" * 32,
        )  # fmt: skip
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_HASSIO}, data=moved
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "already_configured"
        (entry,) = hass.config_entries.async_entries(DOMAIN)
        assert entry.data[CONF_HOST] == "localhost"
    finally:
        await gateway.stop()


async def test_a_supervisor_discovery_without_a_gateway_id_is_not_ours(hass: HomeAssistant) -> None:
    info = HassioServiceInfo(config={"host": "x", "port": 1}, name="x", slug="x", uuid="0" * 32)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=info
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_lwm2m_gateway"
