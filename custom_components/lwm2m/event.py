"""Events: 3347 Push Button presses, from its counter (5501) going up."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .discovery import DiscoveredValue, discover
from .entity import LwM2MEntity
from .models import LwM2MConfigEntry, LwM2MRuntime
from .platform import async_setup_platform


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    async_setup_platform(entry, Platform.EVENT, LwM2MEvent, async_add_entities, discover)


class LwM2MEvent(LwM2MEntity, EventEntity):
    _attr_event_types = ["press"]

    def __init__(self, runtime: LwM2MRuntime, value: DiscoveredValue) -> None:
        super().__init__(runtime, value)
        self._count: Any = self.resource_value

    @callback
    def _changed(self) -> None:
        count = self.resource_value
        pressed = isinstance(count, int) and isinstance(self._count, int) and count > self._count
        self._count = count
        if pressed:
            self._trigger_event("press", {"count": count})
        self.async_write_ha_state()
