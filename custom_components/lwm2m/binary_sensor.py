"""Binary sensors: digital inputs, presence, on/off switches, and the device error code."""

from __future__ import annotations

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .discovery import discover
from .entity import LwM2MEntity
from .models import LwM2MConfigEntry
from .platform import async_setup_platform

PARALLEL_UPDATES = 0  # the gateway queues and orders requests per device itself


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    async_setup_platform(
        entry, Platform.BINARY_SENSOR, LwM2MBinarySensor, async_add_entities, discover
    )


class LwM2MBinarySensor(LwM2MEntity, BinarySensorEntity):
    @property
    def is_on(self) -> bool | None:
        value = self.resource_value
        if isinstance(value, dict):  # 3/0/11 Error Code: a problem when any code is not 0
            return any(code not in (0, None) for code in value.values())
        return None if value is None else bool(value)
