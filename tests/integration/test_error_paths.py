"""The paths a user meets when something is off: refused credentials, nothing to remove, files
that cannot be uploaded, targets that do not exist, lights and trackers fed odd values."""

from __future__ import annotations

from pathlib import Path as FilePath

import pytest
from homeassistant.components.light import ATTR_BRIGHTNESS, ATTR_RGB_COLOR
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_OFF, SERVICE_TURN_ON, STATE_OFF
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from custom_components.lwm2m.const import DOMAIN
from lwm2m_gateway.app import Gateway
from lwm2m_gateway.lwm2m.paths import Path
from tests.integration.conftest import DeviceFactory, EntryFactory, entity_id, wait_registered


async def test_credentials_the_gateway_refuses_and_removing_them_again(
    hass: HomeAssistant, gateway: Gateway, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(gateway)
    options = hass.config_entries.options
    menu = await options.async_init(entry.entry_id)
    empty = await options.async_configure(menu["flow_id"], {"next_step_id": "remove_device"})
    assert (empty["type"], empty["reason"]) == (FlowResultType.ABORT, "no_credentials")

    gateway.server.security.set("taken", "shared-id", bytes(16))
    menu = await options.async_init(entry.entry_id)
    form = await options.async_configure(menu["flow_id"], {"next_step_id": "add_device"})
    refused = await options.async_configure(
        form["flow_id"], {"endpoint": "other", "identity": "shared-id", "key": "00" * 16}
    )
    assert refused["errors"] == {"base": "credentials_refused"}
    nameless = await options.async_configure(form["flow_id"], {"endpoint": "", "key": "00"})
    assert nameless["errors"] == {"endpoint": "invalid_endpoint"}

    menu = await options.async_init(entry.entry_id)
    form = await options.async_configure(menu["flow_id"], {"next_step_id": "remove_device"})
    assert form["step_id"] == "remove_device"
    done = await options.async_configure(form["flow_id"], {"endpoint": "taken"})
    assert done["type"] is FlowResultType.CREATE_ENTRY
    assert gateway.server.security.listing() == []


async def test_services_name_what_is_wrong(
    hass: HomeAssistant,
    gateway: Gateway,
    make_device: DeviceFactory,
    setup_entry: EntryFactory,
    tmp_path: FilePath,
) -> None:
    await make_device("svc")
    await wait_registered(gateway, "svc")
    await setup_entry(gateway)
    with pytest.raises(ServiceValidationError) as unknown:
        await hass.services.async_call(
            DOMAIN, "read", {"device_id": "no-such-device", "path": "/3/0/0"}, blocking=True,
            return_response=True,
        )  # fmt: skip
    assert unknown.value.translation_key == "unknown_device"
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    large = tmp_path / "large.bin"
    large.write_bytes(b"\0")
    with pytest.raises(ServiceValidationError) as unreadable:
        await hass.services.async_call(
            DOMAIN, "upload_firmware",
            {"endpoint": "svc", "file": str(tmp_path / "missing.bin"), "version": "2"},
            blocking=True,
        )  # fmt: skip
    assert unreadable.value.translation_key == "file_unreadable"
    # for every gateway, by manufacturer and model, answering with the image
    added = await hass.services.async_call(
        DOMAIN, "upload_firmware",
        {"file": str(large), "version": "2", "manufacturer": "ha-lwm2m", "model": "x"},
        blocking=True, return_response=True,
    )  # fmt: skip
    assert added is not None
    assert added["image_id"] in {i.image_id for i in gateway.firmware.catalogue.images()}
    with pytest.raises(HomeAssistantError) as cancel:
        await hass.services.async_call(
            DOMAIN, "cancel_firmware_update", {"endpoint": "svc"}, blocking=True
        )
    assert not isinstance(cancel.value, ServiceValidationError)


async def test_a_colour_light_dims_and_comes_back_white_and_a_tracker_reads_text(
    hass: HomeAssistant, gateway: Gateway, make_device: DeviceFactory, setup_entry: EntryFactory
) -> None:
    values = {Path(3420, 0, 1): "#000000", Path(6, 0, 0): "52.5", Path(6, 0, 1): "north",
              Path(6, 0, 3): 5.0}  # fmt: skip
    device = await make_device("odd", values=values)
    await wait_registered(gateway, "odd")
    await setup_entry(gateway)
    led = entity_id(hass, "light", "odd/3420/0/1")
    assert hass.states.get(led).state == STATE_OFF  # type: ignore[union-attr]
    await hass.services.async_call("light", SERVICE_TURN_ON, {ATTR_ENTITY_ID: led}, blocking=True)
    assert device.value("/3420/0/1") == "#FFFFFF"  # black is off: on without a colour is white
    await hass.services.async_call(
        "light", SERVICE_TURN_ON,
        {ATTR_ENTITY_ID: led, ATTR_RGB_COLOR: (255, 128, 0), ATTR_BRIGHTNESS: 128}, blocking=True,
    )  # fmt: skip
    assert device.value("/3420/0/1") == "#804000"  # the colour scaled to the brightness
    await hass.services.async_call("light", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: led}, blocking=True)
    tracker = hass.states.get(entity_id(hass, "device_tracker", "odd/6/0/0"))
    assert tracker is not None
    assert tracker.state == "unknown"  # a latitude as text is read, but "north" is no longitude
    assert tracker.attributes.get("latitude") is None
