"""Diagnostics for the gateway entry and for one endpoint, with the token redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .const import CONF_TOKEN, DOMAIN
from .models import LwM2MConfigEntry

REDACT = {CONF_TOKEN, "serial_number"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: LwM2MConfigEntry
) -> dict[str, Any]:
    runtime = entry.runtime_data
    return {
        "entry": async_redact_data(dict(entry.data), REDACT),
        "server_info": runtime.client.server_info,
        "connected": runtime.state.connected,
        "endpoints": {
            name: async_redact_data(asdict(info), REDACT)
            for name, info in runtime.state.endpoints.items()
        },
    }


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: LwM2MConfigEntry, device: dr.DeviceEntry
) -> dict[str, Any]:
    runtime = entry.runtime_data
    names = [i for d, i in device.identifiers if d == DOMAIN]
    info = next((runtime.state.endpoints[n] for n in names if n in runtime.state.endpoints), None)
    return {
        "entry": async_redact_data(dict(entry.data), REDACT),
        "endpoint": None if info is None else async_redact_data(asdict(info), REDACT),
    }
