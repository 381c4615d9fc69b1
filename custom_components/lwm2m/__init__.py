"""The LwM2M integration: every device registered with an ha-lwm2m gateway, live in Home Assistant."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .client import CannotConnect, CommandError, GatewayClient, InvalidAuth, SchemaMismatch
from .const import CONF_TOKEN, DOMAIN, PLATFORMS
from .models import GatewayState, LwM2MConfigEntry, LwM2MRuntime
from .services import async_register_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    async_register_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: LwM2MConfigEntry) -> bool:
    client = GatewayClient(
        async_get_clientsession(hass),
        entry.data[CONF_HOST],
        entry.data[CONF_PORT],
        entry.data.get(CONF_TOKEN),
    )
    runtime = LwM2MRuntime(hass, entry, client, GatewayState(entry.unique_id or "", ""))
    issue_id = f"schema_{entry.entry_id}"
    try:
        await runtime.async_start()
    except InvalidAuth as err:
        raise ConfigEntryAuthFailed(str(err)) from err
    except SchemaMismatch as err:
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=f"upgrade_{err.needs}",
            translation_placeholders={"schema": str(err.gateway_schema), "host": client.host},
        )
        raise ConfigEntryNotReady(str(err)) from err
    except (CannotConnect, CommandError) as err:
        raise ConfigEntryNotReady(f"cannot reach the gateway at {client.url}: {err}") from err
    ir.async_delete_issue(hass, DOMAIN, issue_id)
    info = client.server_info or {}
    runtime.state.gateway_id = str(info.get("gateway_id", entry.unique_id))
    runtime.state.gateway_version = str(info.get("gateway_version", ""))
    entry.runtime_data = runtime
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, runtime.state.gateway_id)},
        manufacturer="ha-lwm2m",
        model="LwM2M gateway",
        name=f"LwM2M gateway {client.host}",
        sw_version=runtime.state.gateway_version,
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: LwM2MConfigEntry) -> bool:
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_stop()
    return unloaded


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: ConfigEntry[LwM2MRuntime], device: dr.DeviceEntry
) -> bool:
    """Removing an endpoint's device makes the gateway forget the endpoint; the hub stays."""
    runtime = entry.runtime_data
    for domain, identifier in device.identifiers:
        if domain != DOMAIN or identifier == runtime.state.gateway_id:
            continue
        try:
            await runtime.client.command("remove_endpoint", endpoint=identifier)
        except CommandError as err:
            if err.error_code != "unknown_endpoint":
                return False
        except CannotConnect:
            return False
        runtime.state.endpoints.pop(identifier, None)
        return True
    return False
