"""Service actions: read, write, execute and write_attributes on any endpoint, from automations."""

from __future__ import annotations

import base64
from typing import Any

import voluptuous as vol
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr

from .client import CannotConnect, CommandError
from .const import DOMAIN
from .models import LwM2MRuntime

ATTR_DEVICE_ID = "device_id"
ATTR_ENDPOINT = "endpoint"
ATTR_PATH = "path"
PATH = vol.Match(r"^(/\d{1,5}){1,4}$")
TARGET: dict[vol.Marker, Any] = {
    vol.Exclusive(ATTR_DEVICE_ID, "target"): cv.string,
    vol.Exclusive(ATTR_ENDPOINT, "target"): cv.string,
    vol.Required(ATTR_PATH): PATH,
}
NUMBER = vol.Any(None, vol.Coerce(float))
ATTRIBUTES: dict[vol.Marker, Any] = {
    vol.Optional(name): NUMBER for name in ("pmin", "pmax", "gt", "lt", "st")
}
SCHEMAS = {
    "read": vol.Schema(TARGET),
    "write": vol.Schema({**TARGET, vol.Required("value"): object}),
    "execute": vol.Schema({**TARGET, vol.Optional("args"): cv.string}),
    "write_attributes": vol.Schema({**TARGET, **ATTRIBUTES}),
}


def _target(hass: HomeAssistant, call: ServiceCall) -> tuple[LwM2MRuntime, str]:
    """The runtime that knows the endpoint, from a device id or an endpoint name."""
    endpoint = call.data.get(ATTR_ENDPOINT)
    entry_ids: set[str] = set()
    if device_id := call.data.get(ATTR_DEVICE_ID):
        device = dr.async_get(hass).async_get(device_id)
        if device is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="unknown_device",
                translation_placeholders={"device_id": device_id},
            )  # fmt: skip
        endpoint = next((i for d, i in device.identifiers if d == DOMAIN), None)
        entry_ids = set(device.config_entries)
    if not endpoint:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_target")
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        runtime: LwM2MRuntime = entry.runtime_data
        if (not entry_ids or entry.entry_id in entry_ids) and endpoint in runtime.state.endpoints:
            return runtime, endpoint
    raise ServiceValidationError(
        translation_domain=DOMAIN, translation_key="unknown_endpoint",
        translation_placeholders={"endpoint": endpoint},
    )  # fmt: skip


UPLOAD_SCHEMA = vol.Schema(
    {
        vol.Exclusive(ATTR_DEVICE_ID, "target"): cv.string,
        vol.Exclusive(ATTR_ENDPOINT, "target"): cv.string,
        vol.Required("file"): cv.string,
        vol.Required("version"): cv.string,
        vol.Optional("release_notes"): cv.string,
        vol.Optional("manufacturer"): cv.string,
        vol.Optional("model"): cv.string,
    }
)
CANCEL_SCHEMA = vol.Schema(
    {
        vol.Exclusive(ATTR_DEVICE_ID, "target"): cv.string,
        vol.Exclusive(ATTR_ENDPOINT, "target"): cv.string,
    }
)
MAX_UPLOAD = 3 * 1024 * 1024  # one WebSocket frame; larger images go to the gateway directly


def _read_file(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read(MAX_UPLOAD + 1)


async def _upload_firmware(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Give the gateway an image from a file under HA's allowed directories."""
    path = call.data["file"]
    if not hass.config.is_allowed_path(path):
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="path_not_allowed",
            translation_placeholders={"file": path},
        )  # fmt: skip
    try:
        data = await hass.async_add_executor_job(_read_file, path)
    except OSError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="file_unreadable",
            translation_placeholders={"file": path, "error": str(err.strerror)},
        ) from err  # fmt: skip
    if len(data) > MAX_UPLOAD:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="file_too_large",
            translation_placeholders={"file": path, "limit": str(MAX_UPLOAD)},
        )  # fmt: skip
    args: dict[str, Any] = {
        "data": base64.b64encode(data).decode("ascii"),
        "version": call.data["version"],
    }
    args.update(
        {k: call.data[k] for k in ("release_notes", "manufacturer", "model") if k in call.data}
    )
    if ATTR_DEVICE_ID in call.data or ATTR_ENDPOINT in call.data:
        runtime, endpoint = _target(hass, call)
        args["endpoints"] = [endpoint]
        runtimes = [runtime]
    else:  # for every gateway, targeted by manufacturer/model
        runtimes = [
            entry.runtime_data for entry in hass.config_entries.async_loaded_entries(DOMAIN)
        ]
    result: dict[str, Any] = {}
    for runtime in runtimes:
        try:
            result = await runtime.client.command("firmware_add_image", **args)
        except (CommandError, CannotConnect) as err:
            raise HomeAssistantError(  # the gateway or the device failed, not the input
                translation_domain=DOMAIN, translation_key="command_failed",
                translation_placeholders={"command": "upload_firmware", "endpoint": "-",
                                          "path": path, "error": str(err)},
            ) from err  # fmt: skip
    return result


async def _cancel_firmware(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    runtime, endpoint = _target(hass, call)
    try:
        await runtime.client.command("firmware_cancel", endpoint=endpoint)
    except (CommandError, CannotConnect) as err:
        raise HomeAssistantError(  # the gateway or the device failed, not the input
            translation_domain=DOMAIN, translation_key="command_failed",
            translation_placeholders={"command": "cancel_firmware_update", "endpoint": endpoint,
                                      "path": "/5/0", "error": str(err)},
        ) from err  # fmt: skip
    return None


def async_register_services(hass: HomeAssistant) -> None:
    async def handle(call: ServiceCall) -> ServiceResponse:
        runtime, endpoint = _target(hass, call)
        path = call.data[ATTR_PATH]
        args: dict[str, Any] = {"endpoint": endpoint, "path": path}
        if call.service == "write":
            args["value"] = call.data["value"]
        elif call.service == "execute" and "args" in call.data:
            args["args"] = call.data["args"]
        elif call.service == "write_attributes":
            args.update(
                {k: call.data[k] for k in ("pmin", "pmax", "gt", "lt", "st") if k in call.data}
            )
        try:
            result = await runtime.client.command(call.service, **args)
        except (CommandError, CannotConnect) as err:
            raise HomeAssistantError(  # the gateway or the device failed, not the input
                translation_domain=DOMAIN, translation_key="command_failed",
                translation_placeholders={"command": call.service, "endpoint": endpoint,
                                          "path": path, "error": str(err)},
            ) from err  # fmt: skip
        return result if call.service == "read" else None

    async def upload(call: ServiceCall) -> ServiceResponse:
        return await _upload_firmware(hass, call)

    async def cancel(call: ServiceCall) -> ServiceResponse:
        return await _cancel_firmware(hass, call)

    hass.services.async_register(
        DOMAIN, "upload_firmware", upload, schema=UPLOAD_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )  # fmt: skip
    hass.services.async_register(DOMAIN, "cancel_firmware_update", cancel, schema=CANCEL_SCHEMA)
    for service, schema in SCHEMAS.items():
        hass.services.async_register(
            DOMAIN,
            service,
            handle,
            schema=schema,
            supports_response=SupportsResponse.ONLY if service == "read" else SupportsResponse.NONE,
        )
