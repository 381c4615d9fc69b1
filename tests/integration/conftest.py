"""HA harness fixtures: a real gateway on loopback, simulated devices, a loaded config entry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path as FilePath
from typing import Any

import pytest
import pytest_socket
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.const import DOMAIN
from lwm2m_gateway.app import Gateway
from lwm2m_gateway.config import load_config
from lwm2m_gateway.server import ServerEvent
from lwm2m_gateway.simulator import SimulatedDevice


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let HA load custom_components/lwm2m."""


async def start_gateway(data_dir: FilePath, **settings: Any) -> Gateway:
    config = load_config(
        None,
        {"coap_port": 0, "coaps_port": 0, "api_port": 0, "data_dir": str(data_dir), "request_timeout": 2,
         "log_level": "WARNING", **settings},
    )  # fmt: skip
    gateway = Gateway(config)
    _track_registrations(gateway)
    await gateway.start()
    return gateway


@pytest.fixture
def loopback(socket_enabled: None) -> None:
    """Real sockets, loopback only: aiocoap checks routes via the v4-mapped ::ffff:127.0.0.1."""
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::ffff:127.0.0.1", "::1"])


@pytest.fixture
async def gateway(loopback: None, tmp_path: FilePath) -> AsyncIterator[Gateway]:
    gateway = await start_gateway(tmp_path / "gateway")
    yield gateway
    await gateway.stop()


DeviceFactory = Callable[..., Awaitable[SimulatedDevice]]


@pytest.fixture
async def make_device(gateway: Gateway) -> AsyncIterator[DeviceFactory]:
    devices: list[SimulatedDevice] = []

    async def make(endpoint: str = "dev", **kwargs: Any) -> SimulatedDevice:
        device = SimulatedDevice(
            endpoint, f"coap://127.0.0.1:{gateway.server.coap_port}", auto_update=False, **kwargs
        )
        await device.start()
        devices.append(device)
        return device

    yield make
    for device in devices:
        await device.stop()


_REGISTERED: dict[int, dict[str, asyncio.Event]] = {}  # by id(gateway): endpoint -> event


def _track_registrations(gateway: Gateway) -> None:
    seen = _REGISTERED[id(gateway)] = {}

    def on_event(event: ServerEvent) -> None:
        if event.name == "endpoint_inventoried":
            seen.setdefault(event.endpoint, asyncio.Event()).set()

    gateway.server.events.subscribe(on_event)


async def wait_registered(gateway: Gateway, endpoint: str) -> None:
    """Until the gateway has inventoried the endpoint (its first Discover and Read, which
    follow the registration's announcement, schema 5)."""
    seen = _REGISTERED[id(gateway)]
    await asyncio.wait_for(seen.setdefault(endpoint, asyncio.Event()).wait(), 10)


EntryFactory = Callable[..., Awaitable[MockConfigEntry]]


@pytest.fixture
async def setup_entry(hass: HomeAssistant) -> AsyncIterator[EntryFactory]:
    """Set up entries; unload them before the gateway fixture stops the gateway."""
    entries: list[MockConfigEntry] = []

    async def setup(gateway: Gateway, **data: Any) -> MockConfigEntry:
        entry = await _setup_entry(hass, gateway, **data)
        entries.append(entry)
        return entry

    yield setup
    for entry in entries:
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def _setup_entry(hass: HomeAssistant, gateway: Gateway, **data: Any) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={CONF_HOST: "127.0.0.1", CONF_PORT: gateway.api.port, **data},
        unique_id=gateway.store.gateway_id,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def entity_id(hass: HomeAssistant, platform: str, unique_id: str) -> str:
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert found is not None, f"no {platform} entity {unique_id}"
    return found


async def until(check: Callable[[], bool], hass: HomeAssistant, wait_s: float = 10.0) -> None:
    """Poll the HA state machine until check() holds (bounded)."""
    for _ in range(int(wait_s / 0.05)):
        await hass.async_block_till_done()
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")
