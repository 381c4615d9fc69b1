"""A sleepy device's batched readings, kept: the earlier readings of a batch (a queue-mode
sensor that wakes hourly and Sends or notifies 60 timestamped SenML records) go into Home
Assistant's long-term statistics, while the entity's state is the newest.

Each numeric sensor with a state class gets an external statistic `lwm2m:<endpoint>_<o>_<i>_<r>`
of hourly mean, min and max, shown by the statistics graph card. Hours are aggregated from
every reading seen for them (in memory for the last HOURS_KEPT hours), so a batch that
straddles an hour extends it instead of replacing it. External, not the entity's own statistic:
the recorder compiles that one from states, and would fight an import for the current hour.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, cast

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util import slugify

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)
HOUR = 3600
HOURS_KEPT = 48


class BatchStatistics:
    def __init__(self, hass: HomeAssistant) -> None:
        self._hass = hass
        # statistic id -> hour start (s) -> [sum, count, min, max]
        self._hours: dict[str, dict[int, list[float]]] = {}

    @staticmethod
    def statistic_id(endpoint: str, path: str) -> str:
        return f"{DOMAIN}:" + slugify(f"{endpoint}_{path.strip('/').replace('/', '_')}")

    @callback
    def add(self, endpoint: str, path: str, readings: list[tuple[float, Any]]) -> bool:
        """Keep readings ((unix time, value), the newest included) of the sensor at path;
        False when nothing was kept (no recorder, not a numeric sensor with a state class)."""
        if "recorder" not in self._hass.config.components:
            return False
        entity_id = er.async_get(self._hass).async_get_entity_id("sensor", DOMAIN, endpoint + path)
        state = self._hass.states.get(entity_id) if entity_id else None
        if state is None or not state.attributes.get("state_class"):
            return False
        numbers = [
            (float(when), float(value))
            for when, value in readings
            if isinstance(when, int | float)
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ]
        if not numbers:
            return False
        statistic_id = self.statistic_id(endpoint, path)
        hours = self._hours.setdefault(statistic_id, {})
        touched: set[int] = set()
        for when, value in numbers:
            start = int(when // HOUR * HOUR)
            kept = hours.setdefault(start, [0.0, 0.0, value, value])
            kept[0] += value
            kept[1] += 1
            kept[2], kept[3] = min(kept[2], value), max(kept[3], value)
            touched.add(start)
        newest = max(hours)
        for start in [s for s in hours if s < newest - HOURS_KEPT * HOUR]:
            del hours[start]
        self._import(statistic_id, state.name, state.attributes.get("unit_of_measurement"),
                     {start: hours[start] for start in sorted(touched) if start in hours})  # fmt: skip
        return True

    def _import(
        self, statistic_id: str, name: str, unit: str | None, hours: dict[int, list[float]]
    ) -> None:
        from homeassistant.components.recorder.models import (
            StatisticData,
            StatisticMeanType,
            StatisticMetaData,
        )
        from homeassistant.components.recorder.statistics import async_add_external_statistics

        metadata: dict[str, Any] = {
            "mean_type": StatisticMeanType.ARITHMETIC, "has_sum": False,
            "name": f"{name} (every reading)", "source": DOMAIN, "statistic_id": statistic_id,
            "unit_of_measurement": unit,
        }  # fmt: skip
        if "unit_class" in StatisticMetaData.__annotations__:  # HA 2025.10+ requires it
            metadata["unit_class"] = None
        rows = [
            StatisticData(
                start=datetime.fromtimestamp(start, UTC),
                mean=total / count,
                min=low,
                max=high,
            )
            for start, (total, count, low, high) in hours.items()
        ]
        async_add_external_statistics(self._hass, cast(Any, metadata), rows)
        _LOGGER.debug("Kept %d hours of batched readings as %s", len(rows), statistic_id)
