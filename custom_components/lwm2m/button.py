"""Buttons: Reboot, Factory Reset, and every other executable resource."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
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
    async_setup_platform(entry, Platform.BUTTON, LwM2MButton, async_add_entities, discover)


class LwM2MButton(LwM2MEntity, ButtonEntity):
    generic_description = ButtonEntityDescription(key="generic")
    observe_instance = False

    async def async_press(self) -> None:
        await self.command("execute", path=self.discovered.path)
