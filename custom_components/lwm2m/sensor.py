"""Sensors: IPSO measurements, battery, signal, and generic read-only resources."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
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
NUMERIC = frozenset({"integer", "unsigned integer", "float"})
# Min/Max Measured Value, Min/Max Range Value: in the unit of the instance's measurement
IN_MEASUREMENT_UNIT = frozenset({5601, 5602, 5603, 5604})
MEASUREMENT = 5700


PARALLEL_UPDATES = 0  # the gateway queues and orders requests per device itself


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    async_setup_platform(entry, Platform.SENSOR, LwM2MSensor, async_add_entities, discover)


class LwM2MSensor(LwM2MEntity, SensorEntity):
    generic_description = SensorEntityDescription(key="generic")

    @property
    def _type(self) -> str | None:
        """The model's type of the resource (None when the model does not know it)."""
        endpoint = self.endpoint
        found = endpoint.resource(*self._ids) if endpoint else None
        return found.type if found else None

    @property
    def _multiple(self) -> bool:
        endpoint = self.endpoint
        found = endpoint.resource(*self._ids) if endpoint else None
        return found is not None and (found.multiple or isinstance(found.value, dict))

    @property
    def _ids(self) -> tuple[int, int, int]:
        value = self.discovered
        return value.object_id, value.instance_id, value.resource_id

    @property
    def device_class(self) -> SensorDeviceClass | None:
        if self.discovered.schema is None and self._type == "time":
            return SensorDeviceClass.TIMESTAMP
        return super().device_class

    @property
    def state_class(self) -> SensorStateClass | str | None:
        if self.discovered.schema is None and self._type in NUMERIC and not self._multiple:
            return SensorStateClass.MEASUREMENT
        return super().state_class

    @property
    def native_value(self) -> Any:
        value = self.resource_value
        if self.entity_description.key == "battery_status":
            return BATTERY_STATUS[value] if isinstance(value, int) and 0 <= value < 7 else None
        return self._typed(value)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """A multiple-instance resource's instances one by one (the state lists them all)."""
        value = self.resource_value
        if not isinstance(value, dict) or len(value) < 2:
            return None
        return {f"instance_{key}": item for key, item in sorted(value.items(), key=_instance)}

    def _typed(self, value: Any) -> Any:
        """As the model types it: a time, a number, or text (a multi-instance resource's
        instances in order, comma-separated). A measurement is a number or nothing."""
        if isinstance(value, dict):  # a multiple-instance resource: its instances, as text
            return ", ".join(str(v) for _, v in sorted(value.items(), key=_instance))[:MAX_STATE]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if self.device_class == SensorDeviceClass.TIMESTAMP:
            return datetime.fromtimestamp(value, UTC) if number and value >= 0 else None
        if self._type in NUMERIC or self.state_class is not None:
            return value if number else None
        return None if value is None else str(value)[:MAX_STATE]

    @property
    def native_unit_of_measurement(self) -> str | None:
        description_unit = self.entity_description.native_unit_of_measurement
        if description_unit is not None:
            return description_unit
        if self.discovered.schema is None and (self._type not in NUMERIC or self._multiple):
            return None  # HA refuses a unit on text
        units = self.instance_value(SENSOR_UNITS)
        if (
            isinstance(units, str)
            and units
            and (
                self.discovered.schema is not None
                or self.discovered.resource_id in IN_MEASUREMENT_UNIT
            )
        ):
            return normalise_unit(units)
        endpoint = self.endpoint
        resource = endpoint.resource(*self._ids) if endpoint else None
        if resource is not None and resource.units:
            return normalise_unit(resource.units)
        if self.discovered.resource_id in IN_MEASUREMENT_UNIT and endpoint is not None:
            measured = endpoint.resource(self._ids[0], self._ids[1], MEASUREMENT)
            return normalise_unit(measured.units if measured else None)
        return None


def _instance(item: tuple[Any, Any]) -> int:
    """Order a multiple-instance value's items by instance id."""
    return int(item[0]) if str(item[0]).isdigit() else 0
