"""A sleepy sensor's hourly batch of readings is kept whole in long-term statistics."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from homeassistant.components.recorder.core import Recorder
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.lwm2m.batches import BatchStatistics
from lwm2m_gateway.app import Gateway
from lwm2m_gateway.lwm2m.codecs import ContentFormat
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.lwm2m.values import Record
from tests.integration.conftest import (
    DeviceFactory,
    EntryFactory,
    entity_id,
    until,
    wait_registered,
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """The recorder first (its database must exist before Home Assistant does), then ours."""


async def test_no_reading_of_a_batch_is_lost(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
) -> None:
    device = await make_device("sleepy", binding="UQ")
    await wait_registered(gateway, "sleepy")
    await setup_entry(gateway)
    temperature = entity_id(hass, "sensor", "sleepy/3303/0/5700")

    # 60 readings, one a minute, over the two hours before the last full hour
    hour = int(time.time() // 3600 * 3600) - 2 * 3600
    start = hour + 1800  # half past: the batch straddles two hours
    path = Path(3303, 0, 5700)
    batch = [Record(path, 10.0 + i, start + 60 * i) for i in range(60)]
    await device.send([], ContentFormat.SENML_CBOR, records=batch)
    await until(lambda: hass.states.get(temperature).state == "69.0", hass)  # type: ignore[union-attr]

    statistic_id = BatchStatistics.statistic_id("sleepy", "/3303/0/5700")
    await async_wait_recording_done(hass)

    def read() -> dict[str, Any]:
        return statistics_during_period(
            hass, datetime.fromtimestamp(hour - 3600, UTC), None, {statistic_id}, "hour", None,
            {"mean", "min", "max"},
        )  # fmt: skip

    rows = (await recorder_mock.async_add_executor_job(read))[statistic_id]
    assert [r["start"] for r in rows] == [hour, hour + 3600]
    first, second = rows  # 30 readings each: 10..39 and 40..69
    assert (first["min"], first["max"], first["mean"]) == (10.0, 39.0, 24.5)
    assert (second["min"], second["max"], second["mean"]) == (40.0, 69.0, 54.5)

    # the next wake-up's batch reaches back into the last hour: it is extended, not replaced
    later = [Record(path, -5.0, hour + 7140), Record(path, 0.0, hour + 7200),
             Record(path, 100.0, hour + 7260)]  # fmt: skip
    await device.send([], ContentFormat.SENML_CBOR, records=later)
    await until(lambda: hass.states.get(temperature).state == "100.0", hass)  # type: ignore[union-attr]
    await async_wait_recording_done(hass)
    rows = (await recorder_mock.async_add_executor_job(read))[statistic_id]
    assert [r["start"] for r in rows] == [hour, hour + 3600, hour + 7200]
    assert (rows[0]["min"], rows[0]["max"], rows[0]["mean"]) == (10.0, 39.0, 24.5)
    assert (rows[1]["min"], rows[1]["max"]) == (-5.0, 69.0)
    assert rows[1]["mean"] == pytest.approx((sum(range(40, 70)) - 5) / 31)
    assert (rows[2]["min"], rows[2]["max"], rows[2]["mean"]) == (0.0, 100.0, 50.0)
