"""The one way every platform adds entities: now for known endpoints, later for new ones."""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.const import Platform
from homeassistant.core import callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .discovery import DiscoveredValue
from .entity import LwM2MEntity
from .models import EndpointInfo, LwM2MConfigEntry, LwM2MRuntime


@callback
def async_setup_platform(
    entry: LwM2MConfigEntry,
    platform: Platform,
    entity_class: Callable[[LwM2MRuntime, DiscoveredValue], LwM2MEntity],
    async_add_entities: AddConfigEntryEntitiesCallback,
    discover: Callable[[EndpointInfo, Platform], list[DiscoveredValue]],
) -> None:
    runtime = entry.runtime_data
    added: set[str] = set()

    @callback
    def add(endpoint: EndpointInfo) -> None:
        new = [v for v in discover(endpoint, platform) if v.unique_id not in added]
        added.update(v.unique_id for v in new)
        if new:
            async_add_entities(entity_class(runtime, v) for v in new)

    for endpoint in list(runtime.state.endpoints.values()):
        add(endpoint)
    entry.async_on_unload(runtime.state.async_subscribe_new_endpoint(add))
