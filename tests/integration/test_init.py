"""Set-up, reconnection, device removal, repairs, services and diagnostics."""

from __future__ import annotations

from pathlib import Path as FilePath

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.const import DOMAIN
from custom_components.lwm2m.diagnostics import (
    async_get_config_entry_diagnostics,
    async_get_device_diagnostics,
)
from lwm2m_gateway.app import Gateway
from lwm2m_gateway.lwm2m.paths import Path
from tests.integration.conftest import (
    DeviceFactory,
    EntryFactory,
    entity_id,
    start_gateway,
    until,
    wait_registered,
)


async def test_unreachable_gateway_retries_setup(hass: HomeAssistant, loopback: None) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="g", data={CONF_HOST: "127.0.0.1", CONF_PORT: 9}
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_a_wrong_token_starts_reauth(
    hass: HomeAssistant, loopback: None, tmp_path: FilePath
) -> None:
    gateway = await start_gateway(tmp_path, token="the-real-token")
    try:
        entry = MockConfigEntry(
            domain=DOMAIN, unique_id=gateway.store.gateway_id,
            data={CONF_HOST: "127.0.0.1", CONF_PORT: gateway.api.port, "token": "stale-token"},
        )  # fmt: skip
        entry.add_to_hass(hass)
        await hass.config_entries.async_setup(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_ERROR
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert flows[0]["context"]["source"] == "reauth"
    finally:
        await gateway.stop()


async def test_a_gateway_restart_is_survived_without_reloading(
    hass: HomeAssistant,
    loopback: None,
    tmp_path: FilePath,
    setup_entry: EntryFactory,
) -> None:
    from lwm2m_gateway.simulator import SimulatedDevice

    gateway = await start_gateway(tmp_path / "g")
    device = SimulatedDevice(
        "dev", f"coap://127.0.0.1:{gateway.server.coap_port}", auto_update=False
    )
    await device.start()
    restarted: Gateway | None = None
    try:
        await wait_registered(gateway, "dev")
        entry = await setup_entry(gateway)
        temperature = entity_id(hass, "sensor", "dev/3303/0/5700")
        coap_port, api_port = gateway.server.coap_port, gateway.api.port
        await gateway.stop()
        await until(lambda: hass.states.get(temperature).state == STATE_UNAVAILABLE, hass)  # type: ignore[union-attr]
        restarted = await start_gateway(tmp_path / "g", coap_port=coap_port, api_port=api_port)
        await until(lambda: hass.states.get(temperature).state == "21.5", hass, wait_s=15)  # type: ignore[union-attr]
        assert entry.state is ConfigEntryState.LOADED
        device.set_value("/3303/0/5700", 30.0)  # the observation came back with the gateway
        await until(lambda: hass.states.get(temperature).state == "30.0", hass)  # type: ignore[union-attr]
    finally:
        await device.stop()
        for entry in hass.config_entries.async_entries(DOMAIN):
            await hass.config_entries.async_unload(entry.entry_id)
        if restarted is not None:
            await restarted.stop()


async def test_removing_an_endpoint_device_forgets_it_on_the_gateway(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
) -> None:
    await make_device("gone-soon")
    await wait_registered(gateway, "gone-soon")
    entry = await setup_entry(gateway)
    registry = dr.async_get(hass)
    device = registry.async_get_device(identifiers={(DOMAIN, "gone-soon")})
    hub = registry.async_get_device(identifiers={(DOMAIN, gateway.store.gateway_id)})
    assert device is not None
    assert hub is not None
    from custom_components.lwm2m import async_remove_config_entry_device

    assert await async_remove_config_entry_device(hass, entry, hub) is False
    assert await async_remove_config_entry_device(hass, entry, device) is True
    assert "gone-soon" not in gateway.server.registrations.names()


async def test_schema_mismatch_raises_a_repair_issue(
    hass: HomeAssistant, loopback: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custom_components.lwm2m import client as client_module

    async def too_new(self: client_module.GatewayClient) -> None:
        raise client_module.SchemaMismatch(9, "integration")

    monkeypatch.setattr(client_module.GatewayClient, "connect", too_new)
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="g", data={CONF_HOST: "127.0.0.1", CONF_PORT: 9}
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"schema_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_key == "upgrade_integration"


async def test_services_read_write_execute_and_attributes(
    hass: HomeAssistant, gateway: Gateway, make_device: DeviceFactory, setup_entry: EntryFactory
) -> None:
    device = await make_device("svc")
    await wait_registered(gateway, "svc")
    await setup_entry(gateway)
    response = await hass.services.async_call(
        DOMAIN, "read", {"endpoint": "svc", "path": "/3/0/2"}, blocking=True, return_response=True
    )
    assert response == {"values": [{"path": "/3/0/2", "value": "SN-svc", "timestamp": None}]}
    hass_device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "svc")})
    assert hass_device is not None
    await hass.services.async_call(
        DOMAIN, "write", {"device_id": hass_device.id, "path": "/3312/0/5850", "value": True},
        blocking=True,
    )  # fmt: skip
    assert device.value("/3312/0/5850") is True
    await hass.services.async_call(
        DOMAIN, "execute", {"endpoint": "svc", "path": "/3/0/4", "args": "5"}, blocking=True
    )
    assert device.executed[-1][1] == "5"
    await hass.services.async_call(
        DOMAIN, "write_attributes", {"endpoint": "svc", "path": "/3303/0/5700", "pmin": 5, "pmax": 60},
        blocking=True,
    )  # fmt: skip
    assert device.attributes[Path(3303, 0, 5700)] == {"pmin": 5.0, "pmax": 60.0}
    # the device's 4.04 is a failure, not invalid input (HA keeps ServiceValidationError for that)
    with pytest.raises(HomeAssistantError) as failed:
        await hass.services.async_call(
            DOMAIN, "read", {"endpoint": "svc", "path": "/3303/9/5700"}, blocking=True,
            return_response=True,
        )  # fmt: skip
    assert not isinstance(failed.value, ServiceValidationError)
    assert failed.value.translation_key == "command_failed"
    with pytest.raises(ServiceValidationError) as unknown:
        await hass.services.async_call(
            DOMAIN, "read", {"endpoint": "nobody", "path": "/3/0"}, blocking=True,
            return_response=True,
        )  # fmt: skip
    assert unknown.value.translation_key == "unknown_endpoint"


async def test_diagnostics_redact_the_token(
    hass: HomeAssistant, loopback: None, tmp_path: FilePath, setup_entry: EntryFactory
) -> None:
    from lwm2m_gateway.simulator import SimulatedDevice

    gateway = await start_gateway(tmp_path, token="top-secret-token")
    device = SimulatedDevice(
        "diag", f"coap://127.0.0.1:{gateway.server.coap_port}", auto_update=False
    )
    await device.start()
    try:
        await wait_registered(gateway, "diag")
        entry = await setup_entry(gateway, token="top-secret-token")
        diagnostics = await async_get_config_entry_diagnostics(hass, entry)
        assert diagnostics["entry"]["token"] == "**REDACTED**"
        assert "top-secret-token" not in str(diagnostics)
        assert "diag" in diagnostics["endpoints"]
        hass_device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "diag")})
        assert hass_device is not None
        per_device = await async_get_device_diagnostics(hass, entry, hass_device)
        assert per_device["endpoint"]["name"] == "diag"
    finally:
        await device.stop()
        for item in hass.config_entries.async_entries(DOMAIN):
            await hass.config_entries.async_unload(item.entry_id)
        await gateway.stop()


async def test_unload_disconnects(
    hass: HomeAssistant, gateway: Gateway, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(gateway)
    assert len(gateway.api.connections) == 1
    assert await hass.config_entries.async_unload(entry.entry_id)
    await until(lambda: len(gateway.api.connections) == 0, hass)
