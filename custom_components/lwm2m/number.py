"""Numbers: analog outputs, set points, dimmers."""

from __future__ import annotations

from homeassistant.components.number import NumberEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .discovery import SENSOR_UNITS, DiscoveredValue, discover, normalise_unit
from .entity import LwM2MEntity
from .models import LwM2MConfigEntry, LwM2MRuntime
from .platform import async_setup_platform

PARALLEL_UPDATES = 0  # the gateway queues and orders requests per device itself


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    async_setup_platform(entry, Platform.NUMBER, LwM2MNumber, async_add_entities, discover)


class LwM2MNumber(LwM2MEntity, NumberEntity):
    def __init__(self, runtime: LwM2MRuntime, value: DiscoveredValue) -> None:
        super().__init__(runtime, value)
        if value.schema is not None:
            self._attr_native_min_value = value.schema.default_min
            self._attr_native_max_value = value.schema.default_max
        self._attr_native_step = 1 if value.resource_id == 5851 else 0.1

    @property
    def native_value(self) -> float | None:
        value = self.resource_value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    @property
    def native_unit_of_measurement(self) -> str | None:
        fixed = getattr(self.entity_description, "native_unit_of_measurement", None)
        units = self.instance_value(SENSOR_UNITS)
        return fixed or (normalise_unit(units) if isinstance(units, str) else None)

    async def async_set_native_value(self, value: float) -> None:
        typed: float | int = round(value) if self.discovered.resource_id == 5851 else value
        await self.command("write", path=self.discovered.path, value=typed)
