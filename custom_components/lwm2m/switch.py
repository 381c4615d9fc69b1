"""Switches: digital outputs, actuation, power control (outlets), buzzers."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity
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
    async_setup_platform(entry, Platform.SWITCH, LwM2MSwitch, async_add_entities, discover)


class LwM2MSwitch(LwM2MEntity, SwitchEntity):
    @property
    def is_on(self) -> bool | None:
        value = self.resource_value
        return None if value is None else bool(value)

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self.command("write", path=self.discovered.path, value=True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self.command("write", path=self.discovered.path, value=False)
