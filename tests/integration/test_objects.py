"""Every IPSO object hobbyists' devices carry becomes a useful entity (docs/objects.md).

One simulated device carries them all, with values as devices send them, answering in SenML CBOR
and in TLV; Home Assistant's harness sets the integration up against the real gateway.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from homeassistant.components.button.const import SERVICE_PRESS
from homeassistant.components.light import ATTR_RGB_COLOR
from homeassistant.components.number.const import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.text.const import SERVICE_SET_VALUE as TEXT_SET_VALUE
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from lwm2m_gateway.app import Gateway
from lwm2m_gateway.lwm2m.codecs import ContentFormat
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.simulator.objects import STANDARD_EXECUTABLES
from tests.integration.conftest import DeviceFactory, EntryFactory, entity_id, wait_registered

NOW = 1_796_000_000  # 2026-11-30, as devices send time: seconds since the epoch
VALUES: dict[Path, Any] = {
    Path(6, 0, 0): 52.5163,
    Path(6, 0, 1): 13.3777,
    Path(6, 0, 2): 34.0,
    Path(6, 0, 3): 12.0,
    Path(6, 0, 5): NOW,
    Path(6, 0, 6): 1.5,
    Path(3336, 0, 6051): 48.8584,
    Path(3336, 0, 6052): 2.2945,
    Path(3336, 0, 6053): 30.0,
    Path(3313, 0, 5702): 0.01,
    Path(3313, 0, 5703): -0.02,
    Path(3313, 0, 5704): 9.81,
    Path(3313, 0, 5701): "m/s2",
    Path(3314, 0, 5702): 21.0,
    Path(3314, 0, 5703): -4.5,
    Path(3314, 0, 5704): 40.2,
    Path(3314, 0, 5705): 271.5,
    Path(3334, 0, 5702): 0.5,
    Path(3334, 0, 5703): 0.25,
    Path(3334, 0, 5704): -0.75,
    Path(3332, 0, 5705): 90.0,
    Path(3341, 0, 5527): "Hello",
    Path(3341, 0, 5531): 60.0,
    Path(3348, 0, 5547): 2,
    Path(3310, 0, 5828): 40,
    Path(3339, 0, 5548): 30.0,
    Path(3335, 0, 5706): "#00FF80",
    Path(3337, 0, 5536): 25.0,
    Path(3340, 0, 5850): False,
    Path(3340, 0, 5538): 12.5,
    Path(3340, 0, 5544): 300.0,
    Path(3350, 0, 5850): True,
    Path(3350, 0, 5544): 61.0,
    Path(3344, 0, 5541): 7,
    Path(3344, 0, 5542): 3,
    Path(3345, 0, 5702): 0.1,
    Path(3345, 0, 5703): 0.9,
    Path(3345, 0, 5704): 0.0,
    Path(3346, 0, 5700): 120.0,
    Path(3346, 0, 5701): "1/min",
    Path(3349, 0, 5910): 5,
    Path(3333, 0, 5506): NOW,
    Path(3, 0, 13): NOW,
    Path(4, 0, 4, 0): "10.1.2.3",
    Path(4, 0, 7, 0): "iot.example",
    Path(4, 0, 8): 84215,
    Path(4, 0, 11): 14,
    Path(10, 0, 4): 3600,
    Path(10, 0, 5): 60,
    Path(3420, 0, 1): "#FF0000",
}
EXECUTABLES = [*STANDARD_EXECUTABLES, Path(3339, 0, 5523), Path(3340, 0, 5523),
               Path(3341, 0, 5530), Path(3332, 0, 5605)]  # fmt: skip


def state(hass: HomeAssistant, platform: str, unique_id: str) -> Any:
    found = hass.states.get(entity_id(hass, platform, unique_id))
    assert found is not None, unique_id
    return found


@pytest.mark.parametrize("content_format", [ContentFormat.SENML_CBOR, ContentFormat.TLV])
async def test_every_mapped_object_is_a_useful_entity(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
    content_format: int,
) -> None:
    device = await make_device(
        "all", values=VALUES, executables=EXECUTABLES, content_format=content_format
    )
    await wait_registered(gateway, "all")
    entry = await setup_entry(gateway)
    registry = er.async_get(hass)
    for unique_id in ("all/3/0/13", "all/4/0/4", "all/4/0/7", "all/4/0/8", "all/4/0/11",
                      "all/10/0/4"):  # fmt: skip
        registry.async_update_entity(entity_id(hass, "sensor", unique_id), disabled_by=None)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    gps = state(hass, "device_tracker", "all/6/0/0")
    assert (gps.attributes["latitude"], gps.attributes["longitude"]) == (52.5163, 13.3777)
    assert gps.attributes["gps_accuracy"] == 12
    assert (gps.attributes["altitude"], gps.attributes["speed"]) == (34.0, 1.5)
    ipso_gps = state(hass, "device_tracker", "all/3336/0/6051")
    assert (ipso_gps.attributes["latitude"], ipso_gps.attributes["gps_accuracy"]) == (48.8584, 30)

    assert float(state(hass, "sensor", "all/3313/0/5704").state) == 9.81
    assert state(hass, "sensor", "all/3313/0/5704").attributes["unit_of_measurement"] == "m/s2"
    for axis, expected in ((5702, 21.0), (5703, -4.5), (5704, 40.2)):
        assert float(state(hass, "sensor", f"all/3314/0/{axis}").state) == expected
    assert float(state(hass, "sensor", "all/3334/0/5704").state) == -0.75
    assert float(state(hass, "sensor", "all/3345/0/5703").state) == 0.9
    compass = state(hass, "sensor", "all/3314/0/5705")
    assert (float(compass.state), compass.attributes["unit_of_measurement"]) == (271.5, "°")
    assert float(state(hass, "sensor", "all/3332/0/5705").state) == 90.0
    assert state(hass, "sensor", "all/3348/0/5547").state == "2"
    assert state(hass, "sensor", "all/3349/0/5910").state == "5"
    assert state(hass, "sensor", "all/3335/0/5706").state == "#00FF80"
    assert state(hass, "sensor", "all/3344/0/5541").state == "7"
    assert state(hass, "sensor", "all/3344/0/5542").state == "3"
    assert float(state(hass, "sensor", "all/3340/0/5538").state) == 12.5
    assert float(state(hass, "sensor", "all/3350/0/5544").state) == 61.0
    rate = state(hass, "sensor", "all/3346/0/5700")
    assert (float(rate.state), rate.attributes["unit_of_measurement"]) == (120.0, "1/min")
    for unique_id in ("all/3333/0/5506", "all/3/0/13"):
        assert state(hass, "sensor", unique_id).state == "2026-11-30T00:53:20+00:00"
    assert state(hass, "sensor", "all/4/0/4").state == "10.1.2.3"
    assert state(hass, "sensor", "all/4/0/7").state == "iot.example"
    assert state(hass, "sensor", "all/4/0/8").state == "84215"
    snr = state(hass, "sensor", "all/4/0/11")
    assert (snr.state, snr.attributes["unit_of_measurement"]) == ("14", "dB")
    assert state(hass, "sensor", "all/10/0/4").state == "3600"

    # actuators write to the device, which confirms
    display = entity_id(hass, "text", "all/3341/0/5527")
    assert hass.states.get(display).state == "Hello"  # type: ignore[union-attr]
    await hass.services.async_call(
        "text", TEXT_SET_VALUE, {ATTR_ENTITY_ID: display, ATTR_VALUE: "Hi HA"}, blocking=True
    )
    assert device.value("/3341/0/5527") == "Hi HA"
    position = entity_id(hass, "number", "all/3337/0/5536")
    assert float(hass.states.get(position).state) == 25.0  # type: ignore[union-attr]
    await hass.services.async_call(
        "number", SERVICE_SET_VALUE, {ATTR_ENTITY_ID: position, ATTR_VALUE: 80}, blocking=True
    )
    assert device.value("/3337/0/5536") == 80
    for number in ("all/3339/0/5548", "all/3341/0/5531", "all/3310/0/5828"):
        assert hass.states.get(entity_id(hass, "number", number)) is not None
    timer = entity_id(hass, "switch", "all/3340/0/5850")
    assert hass.states.get(timer).state == STATE_OFF  # type: ignore[union-attr]
    await hass.services.async_call(
        "switch", SERVICE_TURN_ON, {ATTR_ENTITY_ID: timer}, blocking=True
    )
    assert device.value("/3340/0/5850") is True
    stopwatch = entity_id(hass, "switch", "all/3350/0/5850")
    assert hass.states.get(stopwatch).state == STATE_ON  # type: ignore[union-attr]

    led = entity_id(hass, "light", "all/3420/0/1")
    assert hass.states.get(led).state == STATE_ON  # type: ignore[union-attr]
    assert hass.states.get(led).attributes[ATTR_RGB_COLOR] == (255, 0, 0)  # type: ignore[union-attr]
    await hass.services.async_call(
        "light", SERVICE_TURN_ON, {ATTR_ENTITY_ID: led, ATTR_RGB_COLOR: (0, 0, 255)}, blocking=True
    )
    assert device.value("/3420/0/1") == "#0000FF"
    await hass.services.async_call("light", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: led}, blocking=True)
    assert device.value("/3420/0/1") == "#000000"
    assert hass.states.get(led).state == STATE_OFF  # type: ignore[union-attr]

    for unique_id, executed in (
        ("all/3339/0/5523", Path(3339, 0, 5523)),
        ("all/3340/0/5523", Path(3340, 0, 5523)),
        ("all/3341/0/5530", Path(3341, 0, 5530)),
        ("all/3332/0/5605", Path(3332, 0, 5605)),
        ("all/3303/0/5605", Path(3303, 0, 5605)),
    ):
        await hass.services.async_call(
            "button", SERVICE_PRESS, {ATTR_ENTITY_ID: entity_id(hass, "button", unique_id)},
            blocking=True,
        )  # fmt: skip
        assert (executed, "") in device.executed, unique_id


def test_docs_name_every_ipso_object_of_the_registry() -> None:
    from pathlib import Path as FilePath

    from lwm2m_gateway.lwm2m.model import ObjectRegistry

    docs = (FilePath(__file__).parents[2] / "docs" / "objects.md").read_text()
    table = "\n".join(line for line in docs.splitlines() if line.startswith("| "))
    registry = ObjectRegistry.builtin()
    wanted = [i for i in [*range(3200, 3351), 3411] if registry.get(i) is not None]
    assert len(wanted) == 54
    missing = [i for i in wanted if not re.search(rf"\b{i}\b", table)]
    assert not missing
