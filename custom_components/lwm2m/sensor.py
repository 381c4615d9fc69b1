"""Sensors: IPSO measurements, battery, signal, and generic read-only resources."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import SensorEntity, SensorEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .discovery import SENSOR_UNITS, discover, normalise_unit
from .entity import LwM2MEntity
from .models import LwM2MConfigEntry
from .platform import async_setup_platform

BATTERY_STATUS = ["normal", "charging", "charge_complete", "damaged", "low", "not_installed",
                  "unknown"]  # fmt: skip
MAX_STATE = 255


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    async_setup_platform(entry, Platform.SENSOR, LwM2MSensor, async_add_entities, discover)


class LwM2MSensor(LwM2MEntity, SensorEntity):
    generic_description = SensorEntityDescription(key="generic")

    @property
    def native_value(self) -> Any:
        value = self.resource_value
        if self.discovered.schema is None:  # generic: show it as text, whatever it is
            return None if value is None else str(value)[:MAX_STATE]
        if self.entity_description.key == "battery_status":
            return BATTERY_STATUS[value] if isinstance(value, int) and 0 <= value < 7 else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return value

    @property
    def native_unit_of_measurement(self) -> str | None:
        description_unit = getattr(self.entity_description, "native_unit_of_measurement", None)
        if self.discovered.schema is None or description_unit is not None:
            return description_unit
        units = self.instance_value(SENSOR_UNITS)
        if isinstance(units, str) and units:
            return normalise_unit(units)
        endpoint = self.endpoint
        resource = endpoint.resource(
            self.discovered.object_id, self.discovered.instance_id, self.discovered.resource_id
        ) if endpoint else None  # fmt: skip
        return normalise_unit(resource.units if resource else None)
