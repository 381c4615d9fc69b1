"""Lights: 3311 Light Control, on/off with dimmer (0..100) and colour (5706) when present."""

from __future__ import annotations

from typing import Any

from homeassistant.components.light import ATTR_BRIGHTNESS, ATTR_RGB_COLOR, LightEntity
from homeassistant.components.light.const import ColorMode
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .discovery import COLOUR, DIMMER, ON_OFF, DiscoveredValue, discover
from .entity import LwM2MEntity
from .models import LwM2MConfigEntry, LwM2MRuntime
from .platform import async_setup_platform

PARALLEL_UPDATES = 0  # the gateway queues and orders requests per device itself


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    async_setup_platform(entry, Platform.LIGHT, light_for, async_add_entities, discover)


def light_for(runtime: LwM2MRuntime, value: DiscoveredValue) -> LwM2MEntity:
    return (
        LwM2MColourLight(runtime, value) if value.object_id == 3420 else LwM2MLight(runtime, value)
    )


def parse_rgb(value: Any) -> tuple[int, int, int] | None:
    """5706 Colour as "#RRGGBB" (the common device habit); anything else is not a colour."""
    if not isinstance(value, str) or len(value) != 7 or not value.startswith("#"):
        return None
    try:
        return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)
    except ValueError:
        return None


class LwM2MLight(LwM2MEntity, LightEntity):
    @property
    def _has_colour(self) -> bool:
        return parse_rgb(self.instance_value(COLOUR)) is not None

    @property
    def _has_dimmer(self) -> bool:
        return self.instance_value(DIMMER) is not None

    @property
    def supported_color_modes(self) -> set[ColorMode]:
        if self._has_colour:
            return {ColorMode.RGB}
        return {ColorMode.BRIGHTNESS} if self._has_dimmer else {ColorMode.ONOFF}

    @property
    def color_mode(self) -> ColorMode:
        return next(iter(self.supported_color_modes))

    @property
    def is_on(self) -> bool | None:
        value = self.resource_value
        return None if value is None else bool(value)

    @property
    def brightness(self) -> int | None:
        dimmer = self.instance_value(DIMMER)
        if isinstance(dimmer, bool) or not isinstance(dimmer, int | float):
            return None
        return round(max(0, min(100, dimmer)) * 255 / 100)

    @property
    def rgb_color(self) -> tuple[int, int, int] | None:
        return parse_rgb(self.instance_value(COLOUR))

    async def async_turn_on(self, **kwargs: Any) -> None:
        values: dict[str, Any] = {str(ON_OFF): True}
        if ATTR_BRIGHTNESS in kwargs and self._has_dimmer:
            values[str(DIMMER)] = round(kwargs[ATTR_BRIGHTNESS] * 100 / 255)
        if ATTR_RGB_COLOR in kwargs and self._has_colour:
            red, green, blue = kwargs[ATTR_RGB_COLOR]
            values[str(COLOUR)] = f"#{red:02X}{green:02X}{blue:02X}"
        await self.command("write", path=self.discovered.instance_path, values=values)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self.command("write", path=self.discovered.path, value=False)


class LwM2MColourLight(LwM2MEntity, LightEntity):
    """3420 LED Color Light: one "#RRGGBB" resource; black is off."""

    _attr_supported_color_modes = {ColorMode.RGB}
    _attr_color_mode = ColorMode.RGB
    OFF = "#000000"

    @property
    def rgb_color(self) -> tuple[int, int, int] | None:
        return parse_rgb(self.resource_value)

    @property
    def is_on(self) -> bool | None:
        rgb = self.rgb_color
        return None if rgb is None else rgb != (0, 0, 0)

    async def async_turn_on(self, **kwargs: Any) -> None:
        red, green, blue = kwargs.get(ATTR_RGB_COLOR) or self._last_on or (255, 255, 255)
        if ATTR_BRIGHTNESS in kwargs:  # scale the colour: the resource has no brightness
            scale = kwargs[ATTR_BRIGHTNESS] / max(red, green, blue, 1)
            red, green, blue = (min(255, round(c * scale)) for c in (red, green, blue))
        await self.command(
            "write", path=self.discovered.path, value=f"#{red:02X}{green:02X}{blue:02X}"
        )

    @property
    def _last_on(self) -> tuple[int, int, int] | None:
        rgb = self.rgb_color
        return rgb if rgb not in (None, (0, 0, 0)) else None

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self.command("write", path=self.discovered.path, value=self.OFF)
