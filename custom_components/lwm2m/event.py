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

PARALLEL_UPDATES = 0  # the gateway queues and orders requests per device itself


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    async_setup_platform(entry, Platform.EVENT, LwM2MEvent, async_add_entities, discover)


class LwM2MEvent(LwM2MEntity, EventEntity):
    """A press is the counter going up in a notification seen live, once the observation
    stands: a counter that moved while nobody watched (before set-up, during a reconnect, in
    the first answer to Observe) only sets the baseline."""

    _attr_event_types = ["press"]

    def __init__(self, runtime: LwM2MRuntime, value: DiscoveredValue) -> None:
        super().__init__(runtime, value)
        self._count: Any = self.resource_value
        self.armed = False  # presses count from when the observation stands

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.armed = self._observed()

    def _observed(self) -> bool:
        """The gateway has answered the Observe of this button's instance in this connection
        (the runtime then tells every entity of the endpoint, which arms this one)."""
        return (self.discovered.endpoint, self.discovered.instance_path) in self.runtime.established

    @callback
    def _changed(self) -> None:
        state = self.runtime.state
        count, previous = self.resource_value, self._count
        live = self.armed and state.changing_path == self.discovered.path
        self._count = count
        self.armed = self._observed()  # disarmed while disconnected, until observed again
        if live and isinstance(count, int) and isinstance(previous, int) and count > previous:
            self._trigger_event("press", {"count": count})
        self.async_write_ha_state()
