"""The update entity: firmware from the HA UI through the gateway to the simulated device."""

from __future__ import annotations

from pathlib import Path as FilePath

import pytest
from homeassistant.components.update import ATTR_INSTALLED_VERSION, ATTR_LATEST_VERSION
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from custom_components.lwm2m.const import DOMAIN
from lwm2m_gateway.app import Gateway
from lwm2m_gateway.lwm2m.firmware import UpdateResult
from tests.integration.conftest import (
    DeviceFactory,
    EntryFactory,
    entity_id,
    until,
    wait_registered,
)

IMAGE = b"FW 2.0.0\n" + bytes(range(256)) * 64


@pytest.fixture
def image_file(hass: HomeAssistant, tmp_path: FilePath) -> FilePath:
    path = tmp_path / "sensor-2.0.0.bin"
    path.write_bytes(IMAGE)
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    return path


async def test_upload_then_install_from_home_assistant(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
    image_file: FilePath,
) -> None:
    device = await make_device("fw")
    await wait_registered(gateway, "fw")
    await setup_entry(gateway)
    update = entity_id(hass, "update", "fw/5/0/3")
    state = hass.states.get(update)
    assert state is not None
    assert state.state == STATE_OFF
    assert state.attributes[ATTR_INSTALLED_VERSION] == "1.0.0"
    await hass.services.async_call(
        DOMAIN, "upload_firmware",
        {"endpoint": "fw", "file": str(image_file), "version": "2.0.0", "release_notes": "Faster"},
        blocking=True,
    )  # fmt: skip
    await until(lambda: hass.states.get(update).state == STATE_ON, hass)  # type: ignore[union-attr]
    assert hass.states.get(update).attributes[ATTR_LATEST_VERSION] == "2.0.0"  # type: ignore[union-attr]
    assert hass.states.get(update).attributes["release_summary"] == "Faster"  # type: ignore[union-attr]
    await hass.services.async_call("update", "install", {ATTR_ENTITY_ID: update}, blocking=True)
    assert device.value("/3/0/3") == "2.0.0"
    await until(lambda: hass.states.get(update).state == STATE_OFF, hass)  # type: ignore[union-attr]
    assert hass.states.get(update).attributes[ATTR_INSTALLED_VERSION] == "2.0.0"  # type: ignore[union-attr]


async def test_a_failure_on_the_device_is_shown_to_the_user(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
    image_file: FilePath,
) -> None:
    device = await make_device("broken")
    device.firmware.fail_with = UpdateResult.INTEGRITY_FAILURE
    await wait_registered(gateway, "broken")
    await setup_entry(gateway)
    await hass.services.async_call(
        DOMAIN, "upload_firmware", {"endpoint": "broken", "file": str(image_file), "version": "2.0.0"},
        blocking=True,
    )  # fmt: skip
    update = entity_id(hass, "update", "broken/5/0/3")
    await until(lambda: hass.states.get(update).state == STATE_ON, hass)  # type: ignore[union-attr]
    with pytest.raises(HomeAssistantError) as failed:
        await hass.services.async_call("update", "install", {ATTR_ENTITY_ID: update}, blocking=True)
    assert failed.value.translation_key == "firmware_failed"
    assert failed.value.translation_placeholders is not None
    assert "integrity check" in str(failed.value.translation_placeholders["message"])
    assert device.value("/3/0/3") == "1.0.0"


async def test_cancel_service_stops_a_download(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
) -> None:
    device = await make_device("slow")
    device.firmware.stall = True
    await wait_registered(gateway, "slow")
    await setup_entry(gateway)
    gateway.firmware.catalogue.add(IMAGE, version="2.0.0", endpoints=["slow"])
    await gateway.firmware.start("slow", method="pull")
    update = entity_id(hass, "update", "slow/5/0/3")
    await until(lambda: hass.states.get(update).attributes.get("in_progress") is True, hass)  # type: ignore[union-attr]
    await hass.services.async_call(
        DOMAIN, "cancel_firmware_update", {"endpoint": "slow"}, blocking=True
    )
    await until(lambda: hass.states.get(update).attributes.get("in_progress") is False, hass)  # type: ignore[union-attr]
    assert device.value("/5/0/5") == UpdateResult.CANCELLED


async def test_upload_refuses_a_file_outside_the_allowed_directories(
    hass: HomeAssistant, gateway: Gateway, setup_entry: EntryFactory, tmp_path: FilePath
) -> None:
    await setup_entry(gateway)
    secret = tmp_path / "elsewhere.bin"
    secret.write_bytes(b"x")
    with pytest.raises(ServiceValidationError) as refused:
        await hass.services.async_call(
            DOMAIN, "upload_firmware", {"file": str(secret), "version": "1"}, blocking=True
        )
    assert refused.value.translation_key == "path_not_allowed"
