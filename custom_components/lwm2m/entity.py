"""The one base entity: a resource of an endpoint, pushed by the gateway, never polled."""

from __future__ import annotations

from typing import Any

from homeassistant.core import callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription

from .client import CannotConnect, CommandError
from .const import DOMAIN
from .discovery import DiscoveredValue
from .models import EndpointInfo, LwM2MRuntime


class LwM2MEntity(Entity):
    _attr_has_entity_name = True
    _attr_should_poll = False
    observe_instance = True  # buttons have nothing to observe
    generic_description = EntityDescription(key="generic")  # for resources without a schema

    def __init__(self, runtime: LwM2MRuntime, value: DiscoveredValue) -> None:
        self.runtime = runtime
        self.discovered = value
        self._attr_unique_id = value.unique_id
        if value.schema is not None:
            self.entity_description = value.schema.description
            if value.instance_id and self.entity_description.translation_key is None:
                self._attr_name = f"{value.object_name or value.object_id} {value.instance_id}"
        else:  # generic: named from the object model, disabled until wanted
            self.entity_description = self.generic_description
            self._attr_entity_registry_enabled_default = False
            label = f"{value.object_name or value.object_id}"
            if value.instance_id:
                label += f" {value.instance_id}"
            resource = value.resource_name or str(value.resource_id)
            if (
                value.object_name
                and resource.startswith(value.object_name)
                and not value.instance_id
            ):
                self._attr_name = resource  # "Device Type", not "Device Device Type"
            else:
                self._attr_name = f"{label} {resource}"
        endpoint = self.endpoint
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, value.endpoint)},
            name=value.endpoint,
            via_device=(DOMAIN, runtime.state.gateway_id),
            **(endpoint.device_details() if endpoint else DeviceInfo()),
        )

    @property
    def endpoint(self) -> EndpointInfo | None:
        return self.runtime.state.endpoints.get(self.discovered.endpoint)

    @property
    def resource_value(self) -> Any:
        endpoint = self.endpoint
        return None if endpoint is None else endpoint.value(self.discovered.path)

    def instance_value(self, resource_id: int) -> Any:
        endpoint = self.endpoint
        path = f"{self.discovered.instance_path}/{resource_id}"
        return None if endpoint is None else endpoint.value(path)

    @property
    def available(self) -> bool:
        endpoint = self.endpoint
        return self.runtime.state.connected and endpoint is not None and endpoint.available

    async def async_added_to_hass(self) -> None:
        self.async_on_remove(
            self.runtime.state.async_subscribe_endpoint(
                self.discovered.endpoint, self._changed, self.discovered.instance_path
            )
        )
        if self.observe_instance:
            self.runtime.entry.async_create_background_task(
                self.hass,
                self.runtime.async_ensure_observed(
                    self.discovered.endpoint, self.discovered.instance_path
                ),
                f"lwm2m observe {self.discovered.endpoint}{self.discovered.instance_path}",
            )

    @callback
    def _changed(self) -> None:
        self.async_write_ha_state()

    async def command(self, command: str, **args: Any) -> dict[str, Any]:
        """Send a command for this entity and return its result; a failure becomes a translated
        HomeAssistantError."""
        try:
            return await self.runtime.client.command(
                command, endpoint=self.discovered.endpoint, **args
            )
        except (CommandError, CannotConnect) as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=f"{command}_failed",
                translation_placeholders={
                    "endpoint": self.discovered.endpoint,
                    "path": str(args.get("path", self.discovered.instance_path)),
                    "error": str(err),
                },
            ) from err
