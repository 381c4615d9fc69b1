"""Device triggers: "<button> pressed" for each 3347 Push Button of a device, usable in the
automation editor without knowing entity ids (as zwave_js offers for its scene buttons).

A trigger follows the button's event entity: a press is a new event state, never the entity
coming back from unavailable (a reconnect).
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.device_automation.exceptions import InvalidDeviceAutomationConfig
from homeassistant.components.homeassistant.triggers import state as state_trigger
from homeassistant.const import (
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_ENTITY_ID,
    CONF_PLATFORM,
    CONF_TYPE,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN
from .discovery import COUNTER

PUSH_BUTTON = 3347
TRIGGER_TYPES = {"pressed"}
CONF_SUBTYPE = "subtype"  # the button's instance id: "0", "1", ...

TRIGGER_SCHEMA = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {vol.Required(CONF_TYPE): vol.In(TRIGGER_TYPES), vol.Required(CONF_SUBTYPE): str}
)


def _endpoint(hass: HomeAssistant, device_id: str) -> str | None:
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        return None
    return next((ident for domain, ident in device.identifiers if domain == DOMAIN), None)


def _button_entity(hass: HomeAssistant, device_id: str, instance: str) -> str | None:
    endpoint = _endpoint(hass, device_id)
    if endpoint is None:
        return None
    unique_id = f"{endpoint}/{PUSH_BUTTON}/{instance}/{COUNTER}"
    return er.async_get(hass).async_get_entity_id("event", DOMAIN, unique_id)


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, Any]]:
    """One "pressed" trigger per push button of the device."""
    endpoint = _endpoint(hass, device_id)
    if endpoint is None:
        return []
    prefix = f"{endpoint}/{PUSH_BUTTON}/"
    triggers = []
    for entry in er.async_entries_for_device(er.async_get(hass), device_id):
        if entry.platform == DOMAIN and entry.unique_id.startswith(prefix):
            instance = entry.unique_id.removeprefix(prefix).split("/")[0]
            triggers.append({
                CONF_PLATFORM: "device", CONF_DOMAIN: DOMAIN, CONF_DEVICE_ID: device_id,
                CONF_TYPE: "pressed", CONF_SUBTYPE: instance,
            })  # fmt: skip
    return triggers


async def async_validate_trigger_config(hass: HomeAssistant, config: ConfigType) -> ConfigType:
    config = TRIGGER_SCHEMA(config)
    if _button_entity(hass, config[CONF_DEVICE_ID], config[CONF_SUBTYPE]) is None:
        raise InvalidDeviceAutomationConfig(
            f"device {config[CONF_DEVICE_ID]} has no push button {config[CONF_SUBTYPE]}"
        )
    return config


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    entity_id = _button_entity(hass, config[CONF_DEVICE_ID], config[CONF_SUBTYPE])
    if entity_id is None:
        raise InvalidDeviceAutomationConfig(f"no push button {config[CONF_SUBTYPE]}")
    state_config = await state_trigger.async_validate_trigger_config(
        hass,
        {
            CONF_PLATFORM: "state",
            CONF_ENTITY_ID: entity_id,
            state_trigger.CONF_NOT_FROM: [STATE_UNAVAILABLE],  # unknown: the first press ever
            state_trigger.CONF_NOT_TO: [STATE_UNAVAILABLE, STATE_UNKNOWN],
        },
    )
    return await state_trigger.async_attach_trigger(
        hass, state_config, action, trigger_info, platform_type="device"
    )
