"""Device trackers: 6 Location and 3336 Location, the device's own GPS fix."""

from __future__ import annotations

from typing import Any

# where current HA exports them (2025.4 has them there too, unlisted in its __all__)
from homeassistant.components.device_tracker import (  # type: ignore[attr-defined]
    SourceType,
    TrackerEntity,
)
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .discovery import LOCATION, discover
from .entity import LwM2MEntity
from .models import LwM2MConfigEntry
from .platform import async_setup_platform

ALTITUDE, SPEED = 2, 6  # object 6's; 3336 has neither


PARALLEL_UPDATES = 0  # the gateway queues and orders requests per device itself


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    async_setup_platform(entry, Platform.DEVICE_TRACKER, LwM2MTracker, async_add_entities, discover)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)  # some devices send coordinates as text
    except ValueError:
        return None


class LwM2MTracker(LwM2MEntity, TrackerEntity):
    _attr_source_type = SourceType.GPS

    @property
    def _ids(self) -> tuple[int, int, int]:
        return LOCATION[self.discovered.object_id]

    @property
    def latitude(self) -> float | None:
        latitude = _number(self.instance_value(self._ids[0]))
        return latitude if latitude is not None and -90 <= latitude <= 90 else None

    @property
    def longitude(self) -> float | None:
        longitude = _number(self.instance_value(self._ids[1]))
        return longitude if longitude is not None and -180 <= longitude <= 180 else None

    @property
    def location_accuracy(self) -> int:
        """Metres: 6's Radius or 3336's Numeric Uncertainty."""
        return round(_number(self.instance_value(self._ids[2])) or 0)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        if self.discovered.object_id != 6:
            return None
        extra = {
            "altitude": _number(self.instance_value(ALTITUDE)),
            "speed": _number(self.instance_value(SPEED)),
        }
        return {key: value for key, value in extra.items() if value is not None} or None
