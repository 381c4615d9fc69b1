"""Texts: 3341 Addressable Text Display, written from Home Assistant."""

from __future__ import annotations

from homeassistant.components.text import TextEntity
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
    async_setup_platform(entry, Platform.TEXT, LwM2MText, async_add_entities, discover)


class LwM2MText(LwM2MEntity, TextEntity):
    _attr_native_max = 255

    @property
    def native_value(self) -> str | None:
        value = self.resource_value
        return None if value is None else str(value)

    async def async_set_value(self, value: str) -> None:
        await self.command("write", path=self.discovered.path, value=value)
