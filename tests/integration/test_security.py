"""Security in Home Assistant: devices waiting for approval, credentials, diagnostics."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path as FilePath
from typing import Any

import pytest
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component

from custom_components.lwm2m.const import DOMAIN
from custom_components.lwm2m.diagnostics import async_get_config_entry_diagnostics
from lwm2m_gateway.app import Gateway
from lwm2m_gateway.simulator import SimulatedDevice
from tests.integration.conftest import EntryFactory, start_gateway, until, wait_registered


class Lab:
    """Gateways with a chosen admission policy, and devices; all stopped after the test,
    after HA's entries are unloaded."""

    def __init__(self, tmp_path: FilePath) -> None:
        self.tmp_path = tmp_path
        self.gateways: list[Gateway] = []
        self.devices: list[SimulatedDevice] = []

    async def gateway(self, **settings: Any) -> Gateway:
        gateway = await start_gateway(self.tmp_path / f"g{len(self.gateways)}", **settings)
        self.gateways.append(gateway)
        return gateway

    def device(self, *args: Any, **kwargs: Any) -> SimulatedDevice:
        device = SimulatedDevice(*args, **kwargs)
        self.devices.append(device)
        return device


@pytest.fixture
async def lab(hass: HomeAssistant, loopback: None, tmp_path: FilePath) -> AsyncIterator[Lab]:
    lab = Lab(tmp_path)
    yield lab
    for device in lab.devices:
        await device.stop()
    for loaded in hass.config_entries.async_entries(DOMAIN):
        await hass.config_entries.async_unload(loaded.entry_id)
    for gateway in lab.gateways:
        await gateway.stop()


async def fix(hass: HomeAssistant, issue_id: str, choice: str) -> dict[str, Any]:
    """Run a repair issue's fix flow as the UI does: open it, pick a menu option."""
    manager = repairs_flow_manager(hass)
    assert manager is not None
    flow = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    assert flow["type"] is FlowResultType.MENU
    assert flow["menu_options"] == ["approve", "reject"]
    result = await manager.async_configure(flow["flow_id"], {"next_step_id": choice})
    return dict(result)


async def test_a_pending_device_is_a_repair_issue_that_approves_or_rejects(
    hass: HomeAssistant, setup_entry: EntryFactory, lab: Lab
) -> None:
    assert await async_setup_component(hass, "repairs", {})
    gateway = await lab.gateway(unknown_endpoints="approve")
    entry = await setup_entry(gateway)
    for name in ("kitchen", "stranger"):
        device = lab.device(name, f"coap://127.0.0.1:{gateway.server.coap_port}")
        await device.start()
    issues = ir.async_get(hass)
    kitchen = f"pending_{entry.entry_id}_kitchen"
    stranger = f"pending_{entry.entry_id}_stranger"
    await until(lambda: issues.async_get_issue(DOMAIN, stranger) is not None, hass)
    issue = issues.async_get_issue(DOMAIN, kitchen)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_key == "pending_device"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["endpoint"] == "kitchen"
    assert issue.translation_placeholders["address"] == f"127.0.0.1:{lab.devices[0].port}"
    assert "3303" in issue.translation_placeholders["objects"]
    devices_registry = dr.async_get(hass)
    assert devices_registry.async_get_device({(DOMAIN, "kitchen")}) is None

    approved = await fix(hass, kitchen, "approve")
    assert approved["type"] is FlowResultType.CREATE_ENTRY
    await wait_registered(gateway, "kitchen")
    await until(lambda: devices_registry.async_get_device({(DOMAIN, "kitchen")}) is not None, hass)
    assert issues.async_get_issue(DOMAIN, kitchen) is None

    rejected = await fix(hass, stranger, "reject")
    assert rejected["type"] is FlowResultType.CREATE_ENTRY
    assert issues.async_get_issue(DOMAIN, stranger) is None
    assert gateway.server.admission.decision("stranger") == "rejected"

    # after a reload (as after an HA restart) the decided devices raise no issue again
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, kitchen) is None
    assert issues.async_get_issue(DOMAIN, stranger) is None
    assert devices_registry.async_get_device({(DOMAIN, "stranger")}) is None


async def test_a_decision_taken_elsewhere_clears_the_issue(
    hass: HomeAssistant, setup_entry: EntryFactory, lab: Lab
) -> None:
    gateway = await lab.gateway(unknown_endpoints="approve")
    device = lab.device("elsewhere", f"coap://127.0.0.1:{gateway.server.coap_port}")
    entry = await setup_entry(gateway)
    await device.start()
    issue_id = f"pending_{entry.entry_id}_elsewhere"
    issues = ir.async_get(hass)
    await until(lambda: issues.async_get_issue(DOMAIN, issue_id) is not None, hass)
    gateway.server.registrations.approve("elsewhere")  # e.g. through the API by a script
    await until(lambda: issues.async_get_issue(DOMAIN, issue_id) is None, hass)


async def test_credentials_from_the_options_flow_let_a_dtls_device_in(
    hass: HomeAssistant, setup_entry: EntryFactory, lab: Lab
) -> None:
    gateway = await lab.gateway(unknown_endpoints="reject")
    entry = await setup_entry(gateway)
    menu = await hass.config_entries.options.async_init(entry.entry_id)
    assert menu["type"] is FlowResultType.MENU
    form = await hass.config_entries.options.async_configure(
        menu["flow_id"], {"next_step_id": "add_device"}
    )
    assert form["step_id"] == "add_device"
    bad = await hass.config_entries.options.async_configure(
        form["flow_id"], {"endpoint": "nrf9160", "key": "not hex"}
    )
    assert bad["errors"] == {"key": "invalid_key"}
    shown = await hass.config_entries.options.async_configure(
        form["flow_id"],
        {"endpoint": "nrf9160"},  # no key: one is generated
    )
    assert shown["step_id"] == "device_added"
    placeholders = shown["description_placeholders"]
    assert placeholders is not None
    assert placeholders["server_uri"] == f"coaps://127.0.0.1:{gateway.server.coaps_port}"
    assert placeholders["identity"] == "nrf9160"
    key = bytes.fromhex(placeholders["key"])
    assert len(key) == 16
    done = await hass.config_entries.options.async_configure(shown["flow_id"], {})
    assert done["type"] is FlowResultType.CREATE_ENTRY
    assert gateway.server.security.listing() == [
        {"endpoint": "nrf9160", "identity": "nrf9160", "mode": "psk"}
    ]

    device = lab.device("nrf9160", placeholders["server_uri"], psk=(placeholders["identity"], key))
    await device.start()
    await wait_registered(gateway, "nrf9160")
    registry = dr.async_get(hass)
    await until(lambda: registry.async_get_device({(DOMAIN, "nrf9160")}) is not None, hass)

    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["endpoints"]["nrf9160"]["security"] == "psk"
    assert placeholders["key"] not in str(diagnostics)


async def test_a_device_bootstraps_with_the_credentials_from_the_flow_and_failures_show(
    hass: HomeAssistant, setup_entry: EntryFactory, lab: Lab
) -> None:
    gateway = await lab.gateway(unknown_endpoints="approve")
    entry = await setup_entry(gateway)
    menu = await hass.config_entries.options.async_init(entry.entry_id)
    form = await hass.config_entries.options.async_configure(
        menu["flow_id"], {"next_step_id": "add_device"}
    )
    shown = await hass.config_entries.options.async_configure(
        form["flow_id"], {"endpoint": "bootstrapper", "identity": "bs-id"}
    )
    placeholders = shown["description_placeholders"]
    assert placeholders is not None
    await hass.config_entries.options.async_configure(shown["flow_id"], {})
    key = bytes.fromhex(placeholders["key"])

    # the device knows only the bootstrap URI HA showed, its identity and key
    device = lab.device(
        "bootstrapper", placeholders["server_uri"], psk=("bs-id", key), bootstrap=True
    )
    await device.start()
    await wait_registered(gateway, "bootstrapper")
    registry = dr.async_get(hass)
    await until(lambda: registry.async_get_device({(DOMAIN, "bootstrapper")}) is not None, hass)

    picky = lab.device(
        "picky", f"coap://127.0.0.1:{gateway.server.coap_port}", bootstrap=True,
        refuse_finish="inconsistent configuration", auto_update=False,
    )  # fmt: skip
    gateway.server.registrations.approve("picky")
    await picky.open()
    with contextlib.suppress(TimeoutError):
        await picky.run_bootstrap(wait_s=2)
    issue_id = f"bootstrap_failed_{entry.entry_id}_picky"
    issues = ir.async_get(hass)
    await until(lambda: issues.async_get_issue(DOMAIN, issue_id) is not None, hass)
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["step"] == "finish"
    assert "inconsistent configuration" in issue.translation_placeholders["reason"]
