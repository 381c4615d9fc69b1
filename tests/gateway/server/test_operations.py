"""Device management (LwM2M 1.1 core §6.3) against a simulated device, in every content format."""

from __future__ import annotations

import pytest

from lwm2m_gateway.lwm2m.codecs import ContentFormat
from lwm2m_gateway.lwm2m.errors import DeviceError, UnknownEndpoint
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.lwm2m.values import Record
from lwm2m_gateway.server import Lwm2mServer
from lwm2m_gateway.simulator import SimulatedDevice
from tests.gateway.conftest import DeviceFactory, Events

FORMATS = [
    ContentFormat.TLV,
    ContentFormat.SENML_JSON,
    ContentFormat.SENML_CBOR,
    ContentFormat.LWM2M_JSON,
    ContentFormat.LWM2M_CBOR,
]


@pytest.fixture(params=FORMATS, ids=lambda f: f.name)
async def device(
    request: pytest.FixtureRequest, server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> object:
    lwm2m, events = server
    fmt = request.param
    # the device speaks only its own format (plus text for single values)
    made = await make_device(
        lwm2m, "dev", content_format=fmt, accept_formats={fmt, ContentFormat.TEXT}
    )
    await events.wait("endpoint_registered", "dev")
    return made


async def test_read_a_resource_an_instance_and_an_object(
    server: tuple[Lwm2mServer, Events], device: SimulatedDevice
) -> None:
    lwm2m, _ = server
    assert await lwm2m.device.read("dev", [Path(3303, 0, 5700)]) == [
        Record(Path(3303, 0, 5700), 21.5)
    ]
    instance = {r.path: r.value for r in await lwm2m.device.read("dev", [Path(3, 0)])}
    assert instance[Path(3, 0, 0)] == "ha-lwm2m"
    assert instance[Path(3, 0, 6, 1)] == 5
    assert instance[Path(3, 0, 9)] == 87
    whole = await lwm2m.device.read("dev", [Path(3312)])
    assert whole == [Record(Path(3312, 0, 5850), False)]


async def test_write_replace_and_partial_update(
    server: tuple[Lwm2mServer, Events], device: SimulatedDevice
) -> None:
    lwm2m, events = server
    from lwm2m_gateway.simulator import SimulatedDevice

    assert isinstance(device, SimulatedDevice)
    await lwm2m.device.write(
        "dev", Path(3312, 0, 5850), [Record(Path(3312, 0, 5850), True)], replace=True
    )
    assert device.value("/3312/0/5850") is True
    await events.wait("resource_changed", "dev", path="/3312/0/5850", value=True)
    partial = [Record(Path(3311, 0, 5851), 80), Record(Path(3311, 0, 5850), True)]
    await lwm2m.device.write("dev", Path(3311, 0), partial, replace=False)
    assert device.value("/3311/0/5851") == 80
    assert device.value("/3311/0/5850") is True
    assert device.value("/3311/0/5706") == "#FFD080"  # untouched by a partial update
    assert ("POST", "/3311/0") in device.requests


async def test_execute_with_arguments(
    server: tuple[Lwm2mServer, Events], device: SimulatedDevice
) -> None:
    lwm2m, _ = server
    await lwm2m.device.execute("dev", Path(3, 0, 4), "0='now'")
    assert device.executed == [(Path(3, 0, 4), "0='now'")]


async def test_discover_lists_instances_resources_and_attributes(
    server: tuple[Lwm2mServer, Events], device: SimulatedDevice
) -> None:
    lwm2m, _ = server
    await lwm2m.device.write_attributes(
        "dev", Path(3303, 0, 5700), {"pmin": 2, "pmax": 60, "st": 0.5}
    )
    links = dict(await lwm2m.device.discover("dev", Path(3303)))
    assert links[Path(3303)] == {"ver": "1.1"}
    assert Path(3303, 0, 5605) in links
    assert links[Path(3303, 0, 5700)] == {"pmin": "2", "pmax": "60", "st": "0.5"}
    await lwm2m.device.write_attributes("dev", Path(3303, 0, 5700), {"st": None})
    assert dict(await lwm2m.device.discover("dev", Path(3303, 0)))[Path(3303, 0, 5700)] == {
        "pmin": "2",
        "pmax": "60",
    }


async def test_create_and_delete_an_instance(
    server: tuple[Lwm2mServer, Events], device: SimulatedDevice
) -> None:
    lwm2m, events = server
    created = await lwm2m.device.create(
        "dev", Path(3303), [Record(Path(3303, 0, 5700), 5.0)], instance_id=None
    )
    assert created.object_id == 3303
    assert created.instance_id not in (None, 0)
    assert device.value(Path(3303, created.instance_id, 5700)) == 5.0
    instances = {
        i["id"]
        for o in lwm2m.registrations.describe("dev")["objects"]
        if o["id"] == 3303
        for i in o["instances"]
    }
    assert created.instance_id in instances
    await lwm2m.device.delete("dev", created)
    assert device.value(Path(3303, created.instance_id, 5700)) is None
    await events.wait("endpoint_updated", "dev")


async def test_errors_carry_the_coap_code_and_path(
    server: tuple[Lwm2mServer, Events], device: SimulatedDevice
) -> None:
    lwm2m, _ = server
    with pytest.raises(DeviceError) as missing:
        await lwm2m.device.read("dev", [Path(3303, 9, 5700)])
    assert missing.value.error_code == "not_found"
    assert missing.value.details()["path"] == "/3303/9/5700"
    with pytest.raises(DeviceError) as read_only:
        await lwm2m.device.write(
            "dev", Path(3303, 0, 5700), [Record(Path(3303, 0, 5700), 1.0)], replace=True
        )
    assert read_only.value.error_code == "method_not_allowed"
    with pytest.raises(UnknownEndpoint):
        await lwm2m.device.read("nobody", [Path(3, 0)])


async def test_composite_read_and_write(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "multi", content_format=ContentFormat.SENML_CBOR)
    await events.wait("endpoint_registered", "multi")
    records = await lwm2m.device.read("multi", [Path(3303, 0, 5700), Path(3, 0, 0)])
    assert {r.path: r.value for r in records} == {
        Path(3303, 0, 5700): 21.5,
        Path(3, 0, 0): "ha-lwm2m",
    }
    await lwm2m.device.write(
        "multi",
        None,
        [Record(Path(3312, 0, 5850), True), Record(Path(3311, 0, 5851), 10)],
        replace=False,
    )
    assert device.value("/3312/0/5850") is True
    assert device.value("/3311/0/5851") == 10
    assert ("iPATCH", "/") in device.requests


async def test_a_refused_format_falls_back_to_the_next(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    # announces SenML CBOR but only really speaks TLV: the server must retry after 4.06
    device = await make_device(
        lwm2m,
        "liar",
        content_format=ContentFormat.SENML_CBOR,
        accept_formats={ContentFormat.TLV, ContentFormat.TEXT},
    )
    await events.wait("endpoint_registered", "liar")
    records = await lwm2m.device.read("liar", [Path(3, 0)])
    assert any(r.path == Path(3, 0, 0) for r in records)
    assert lwm2m.registrations.get("liar").formats["read"] == ContentFormat.TLV
    assert device.value("/3/0/0") == "ha-lwm2m"


async def test_a_large_value_travels_block_wise_both_ways(
    server: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = server
    device = await make_device(lwm2m, "big", content_format=ContentFormat.TLV)
    await events.wait("endpoint_registered", "big")
    text = "".join(chr(65 + i % 26) for i in range(10240))  # 10 KiB, far over one CoAP block
    await lwm2m.device.write(
        "big", Path(3311, 0, 5706), [Record(Path(3311, 0, 5706), text)], replace=True
    )
    assert device.value("/3311/0/5706") == text
    (record,) = await lwm2m.device.read("big", [Path(3311, 0, 5706)])
    assert record.value == text
