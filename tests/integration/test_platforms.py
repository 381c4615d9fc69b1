"""Every platform against a real gateway and a simulated device, in HA's test harness."""

from __future__ import annotations

import pytest
from homeassistant.components.button.const import SERVICE_PRESS
from homeassistant.components.light import ATTR_BRIGHTNESS, ATTR_RGB_COLOR
from homeassistant.components.number import ATTR_VALUE
from homeassistant.components.number.const import SERVICE_SET_VALUE
from homeassistant.const import (
    ATTR_ENTITY_ID,
    ATTR_UNIT_OF_MEASUREMENT,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

from custom_components.lwm2m.const import DOMAIN
from lwm2m_gateway.app import Gateway
from lwm2m_gateway.lwm2m.paths import Path
from tests.integration.conftest import (
    DeviceFactory,
    EntryFactory,
    entity_id,
    until,
    wait_registered,
)


async def test_sensor_shows_the_device_value_and_follows_notifications(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
) -> None:
    device = await make_device("dev")
    await wait_registered(gateway, "dev")
    await setup_entry(gateway)
    temperature = entity_id(hass, "sensor", "dev/3303/0/5700")
    state = hass.states.get(temperature)
    assert state is not None
    assert state.state == "21.5"
    assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "°C"
    assert state.attributes["device_class"] == "temperature"
    humidity = hass.states.get(entity_id(hass, "sensor", "dev/3304/0/5700"))
    assert humidity is not None
    assert humidity.attributes[ATTR_UNIT_OF_MEASUREMENT] == "%"
    battery = hass.states.get(entity_id(hass, "sensor", "dev/3/0/9"))
    assert battery is not None
    assert battery.state == "87"
    await until(lambda: gateway.server.store.load_observations_of("dev") != {}, hass)
    device.set_value("/3303/0/5700", 24.25)
    await until(lambda: hass.states.get(temperature).state == "24.25", hass)  # type: ignore[union-attr]


async def test_one_device_per_endpoint_with_object_3_details(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
) -> None:
    await make_device("dev")
    await wait_registered(gateway, "dev")
    await setup_entry(gateway)
    registry = dr.async_get(hass)
    device = registry.async_get_device(identifiers={(DOMAIN, "dev")})
    assert device is not None
    assert device.manufacturer == "ha-lwm2m"
    assert device.model == "Simulated Sensor"
    assert device.serial_number == "SN-dev"
    assert device.sw_version == "1.0.0"
    assert device.hw_version == "rev-b"
    hub = registry.async_get_device(identifiers={(DOMAIN, gateway.store.gateway_id)})
    assert hub is not None
    assert device.via_device_id == hub.id


async def test_switch_writes_to_the_device(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
) -> None:
    device = await make_device("dev")
    await wait_registered(gateway, "dev")
    await setup_entry(gateway)
    switch = entity_id(hass, "switch", "dev/3312/0/5850")
    assert hass.states.get(switch).state == STATE_OFF  # type: ignore[union-attr]
    await hass.services.async_call(
        "switch", SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
    )
    assert device.value("/3312/0/5850") is True
    await until(lambda: hass.states.get(switch).state == STATE_ON, hass)  # type: ignore[union-attr]
    await hass.services.async_call(
        "switch", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: switch}, blocking=True
    )
    assert device.value("/3312/0/5850") is False


async def test_light_brightness_and_colour(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
) -> None:
    device = await make_device("dev")
    await wait_registered(gateway, "dev")
    await setup_entry(gateway)
    light = entity_id(hass, "light", "dev/3311/0/5850")
    state = hass.states.get(light)
    assert state is not None
    assert state.state == STATE_OFF
    assert state.attributes["supported_color_modes"] == ["rgb"]
    await hass.services.async_call(
        "light",
        SERVICE_TURN_ON,
        {ATTR_ENTITY_ID: light, ATTR_BRIGHTNESS: 255, ATTR_RGB_COLOR: (255, 0, 16)},
        blocking=True,
    )
    assert device.value("/3311/0/5850") is True
    assert device.value("/3311/0/5851") == 100
    assert device.value("/3311/0/5706") == "#FF0010"
    await until(lambda: hass.states.get(light).attributes.get(ATTR_BRIGHTNESS) == 255, hass)  # type: ignore[union-attr]


async def test_number_button_event_and_binary_sensor(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
) -> None:
    values = {
        Path(3, 0, 0): "ACME",
        Path(3, 0, 11, 0): 0,
        Path(3343, 0, 5851): 20,
        Path(3347, 0, 5501): 0,
        Path(3347, 0, 5500): False,
    }
    device = await make_device("dev", values=values)
    await wait_registered(gateway, "dev")
    await setup_entry(gateway)
    dimmer = entity_id(hass, "number", "dev/3343/0/5851")
    assert hass.states.get(dimmer).state == "20.0"  # type: ignore[union-attr]
    await hass.services.async_call(
        "number", SERVICE_SET_VALUE, {ATTR_ENTITY_ID: dimmer, ATTR_VALUE: 65}, blocking=True
    )
    assert device.value("/3343/0/5851") == 65
    reboot = entity_id(hass, "button", "dev/3/0/4")
    await hass.services.async_call("button", SERVICE_PRESS, {ATTR_ENTITY_ID: reboot}, blocking=True)
    assert device.executed == [(Path(3, 0, 4), "")]
    problem = entity_id(hass, "binary_sensor", "dev/3/0/11")
    assert hass.states.get(problem).state == STATE_OFF  # type: ignore[union-attr]
    button = entity_id(hass, "event", "dev/3347/0/5501")
    await until(
        lambda: (
            ("dev", "/3347/0") in hass.config_entries.async_entries(DOMAIN)[0].runtime_data.observed
        ),
        hass,
    )
    device.set_value("/3347/0/5501", 1)
    await until(lambda: hass.states.get(button).attributes.get("event_type") == "press", hass)  # type: ignore[union-attr]


async def test_generic_resources_are_sensors_disabled_by_default(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
) -> None:
    await make_device("dev")
    await wait_registered(gateway, "dev")
    await setup_entry(gateway)
    registry = er.async_get(hass)
    manufacturer = registry.async_get(entity_id(hass, "sensor", "dev/3/0/0"))
    assert manufacturer is not None
    assert manufacturer.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    factory_reset = registry.async_get(entity_id(hass, "button", "dev/3/0/5"))
    assert factory_reset is not None
    assert factory_reset.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    signal = registry.async_get(entity_id(hass, "sensor", "dev/4/0/2"))
    assert signal is not None
    assert signal.disabled_by is er.RegistryEntryDisabler.INTEGRATION


async def test_a_new_endpoint_appears_without_a_reload(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
) -> None:
    await setup_entry(gateway)
    await make_device("late")
    await until(
        lambda: (
            er.async_get(hass).async_get_entity_id("sensor", DOMAIN, "late/3303/0/5700") is not None
        ),
        hass,
    )


async def test_deregistration_makes_entities_unavailable(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
) -> None:
    device = await make_device("dev")
    await wait_registered(gateway, "dev")
    await setup_entry(gateway)
    temperature = entity_id(hass, "sensor", "dev/3303/0/5700")
    await device.deregister()
    await until(lambda: hass.states.get(temperature).state == STATE_UNAVAILABLE, hass)  # type: ignore[union-attr]
    events: list[Event] = []
    hass.bus.async_listen("lwm2m_event", events.append)
    await device.register()
    await until(lambda: hass.states.get(temperature).state == "21.5", hass)  # type: ignore[union-attr]
    assert events[0].data["type"] == "registered"
    assert events[0].data["endpoint"] == "dev"


async def test_a_failed_write_raises_a_translated_error(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
) -> None:
    device = await make_device("dev")
    await wait_registered(gateway, "dev")
    entry = await setup_entry(gateway)
    switch = entity_id(hass, "switch", "dev/3312/0/5850")
    runtime = entry.runtime_data
    # the entities' observations are made first: one still on its way to the stopped device
    # would find it gone (ICMP) and make it unavailable before the write is tried
    await until(lambda: bool(runtime.observed) and runtime.observed <= runtime.established, hass)
    await device.stop()  # gone without de-registering: the write times out
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            "switch", SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
        )
    assert caught.value.translation_key == "write_failed"
    assert caught.value.translation_placeholders is not None
    assert caught.value.translation_placeholders["endpoint"] == "dev"
    # the gateway finds it unreachable (ICMP; detection itself: tests/gateway test_wire.py),
    # and HA shows the device unavailable until it speaks again
    state = gateway.server.registrations.get("dev")
    gateway.server.presence.unreachable(state, "port unreachable")
    await until(lambda: hass.states.get(switch).state == STATE_UNAVAILABLE, hass)  # type: ignore[union-attr]
    back = await make_device("dev")
    await until(lambda: hass.states.get(switch).state != STATE_UNAVAILABLE, hass)  # type: ignore[union-attr]
    await back.stop()
