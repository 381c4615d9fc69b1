"""A push button's "pressed" device trigger, in an automation, as the editor writes it."""

from __future__ import annotations

from homeassistant.components.automation.const import DOMAIN as AUTOMATION
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    async_get_device_automations,
    async_mock_service,
)

from custom_components.lwm2m.const import DOMAIN
from lwm2m_gateway.app import Gateway
from lwm2m_gateway.lwm2m.paths import Path
from tests.integration.conftest import DeviceFactory, EntryFactory, until, wait_registered


async def test_a_button_press_runs_an_automation_made_from_the_device_trigger(
    hass: HomeAssistant, gateway: Gateway, make_device: DeviceFactory, setup_entry: EntryFactory
) -> None:
    values = {Path(3347, 0, 5501): 0, Path(3347, 0, 5500): False,
              Path(3347, 1, 5501): 10, Path(3347, 1, 5500): False}  # fmt: skip
    device = await make_device("doorbell", values=values)
    await wait_registered(gateway, "doorbell")
    entry = await setup_entry(gateway)
    registered = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "doorbell")})
    assert registered is not None
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, registered.id)
    ours = sorted((t["subtype"], t["type"]) for t in triggers if t["domain"] == DOMAIN)
    assert ours == [("0", "pressed"), ("1", "pressed")]

    calls: list[ServiceCall] = async_mock_service(hass, "test", "pressed")
    assert await async_setup_component(hass, AUTOMATION, {AUTOMATION: [{
        "triggers": [{"platform": "device", "domain": DOMAIN, "device_id": registered.id,
                      "type": "pressed", "subtype": "1"}],
        "actions": [{"action": "test.pressed"}],
    }]})  # fmt: skip
    runtime = entry.runtime_data
    await until(lambda: ("doorbell", "/3347/1") in runtime.established, hass)
    await until(lambda: ("doorbell", "/3347/0") in runtime.established, hass)

    device.set_value("/3347/0/5501", 1)  # the other button: not this trigger
    device.set_value("/3347/1/5501", 11)
    await until(lambda: len(calls) == 1, hass)
    device.set_value("/3347/1/5501", 12)
    await until(lambda: len(calls) == 2, hass)
    await hass.async_block_till_done()
    assert len(calls) == 2
