"""The specification's own worked examples, decoded and re-encoded byte for byte."""

from __future__ import annotations

import json
import time

import cbor2
import pytest

from lwm2m_gateway.lwm2m.codecs import ContentFormat, decode, encode
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.lwm2m.values import ObjectLink, Record, ResourceType, Value

DEVICE = {
    0: ResourceType.STRING,
    1: ResourceType.STRING,
    2: ResourceType.STRING,
    3: ResourceType.STRING,
    6: ResourceType.INTEGER,
    7: ResourceType.INTEGER,
    8: ResourceType.INTEGER,
    9: ResourceType.INTEGER,
    10: ResourceType.INTEGER,
    11: ResourceType.INTEGER,
    13: ResourceType.TIME,
    14: ResourceType.STRING,
    16: ResourceType.STRING,
}


def device_types(path: Path) -> ResourceType | None:
    if path.object_id != 3 or path.resource_id is None:
        return None
    return DEVICE.get(path.resource_id)


# LwM2M 1.0/1.1 core, TLV example: Read /3/0 of the Device object (single instance).
DEVICE_TLV = bytes.fromhex(
    "C800144F70656E204D6F62696C6520416C6C69616E6365"
    "C801164C69676874776569676874204D324D20436C69656E74"
    "C80209333435303030313233"
    "C303312E30"
    "86064100014101 05".replace(" ", "")
    + "88070842000ED8420113888708410 07D42010384".replace(" ", "")
    + "C10964"
    "C10A0F"
    "830B410000"
    "C40D5182428F"
    "C60E2B30323A3030"
    "C11055"
)
DEVICE_RECORDS = [
    Record(Path(3, 0, 0), "Open Mobile Alliance"),
    Record(Path(3, 0, 1), "Lightweight M2M Client"),
    Record(Path(3, 0, 2), "345000123"),
    Record(Path(3, 0, 3), "1.0"),
    Record(Path(3, 0, 6, 0), 1),
    Record(Path(3, 0, 6, 1), 5),
    Record(Path(3, 0, 7, 0), 3800),
    Record(Path(3, 0, 7, 1), 5000),
    Record(Path(3, 0, 8, 0), 125),
    Record(Path(3, 0, 8, 1), 900),
    Record(Path(3, 0, 9), 100),
    Record(Path(3, 0, 10), 15),
    Record(Path(3, 0, 11, 0), 0),
    Record(Path(3, 0, 13), 1367491215),
    Record(Path(3, 0, 14), "+02:00"),
    Record(Path(3, 0, 16), "U"),
]


def test_device_object_tlv_example_decodes() -> None:
    assert decode(DEVICE_TLV, ContentFormat.TLV, Path(3, 0), device_types) == DEVICE_RECORDS


def test_device_object_tlv_example_encodes_to_the_same_bytes() -> None:
    assert encode(DEVICE_RECORDS, ContentFormat.TLV, Path(3, 0), device_types) == DEVICE_TLV


def test_object_instance_wrapped_tlv_is_accepted_for_an_instance() -> None:
    wrapped = bytes([0x08, 0x00, len(DEVICE_TLV)]) + DEVICE_TLV
    assert decode(wrapped, ContentFormat.TLV, Path(3, 0), device_types) == DEVICE_RECORDS
    as_object = decode(wrapped, ContentFormat.TLV, Path(3), device_types)
    assert as_object == DEVICE_RECORDS


def test_senml_json_example_with_base_name_and_base_time() -> None:
    payload = json.dumps(
        [
            {"bn": "/3303/0/", "bt": 1700000000, "n": "5700", "v": 21.5, "t": 10},
            {"n": "5701", "vs": "Cel"},
            {"bn": "/3/0/", "n": "13", "v": 1700000000},
            {"n": "4", "vb": True},
            {"bn": "/1/0/", "n": "7", "vlo": "3:0"},
        ]
    ).encode()
    types = {
        (3303, 5700): ResourceType.FLOAT,
        (3303, 5701): ResourceType.STRING,
        (3, 13): ResourceType.TIME,
        (1, 7): ResourceType.OBJLNK,
    }
    records = decode(
        payload,
        ContentFormat.SENML_JSON,
        Path(),
        lambda p: types.get((p.object_id or 0, p.resource_id or 0)),
    )
    assert records == [
        Record(Path(3303, 0, 5700), 21.5, 1700000010.0),
        Record(Path(3303, 0, 5701), "Cel", 1700000000.0),
        Record(Path(3, 0, 13), 1700000000, 1700000000.0),
        Record(Path(3, 0, 4), True, 1700000000.0),
        Record(Path(1, 0, 7), ObjectLink(3, 0), 1700000000.0),
    ]


def test_senml_relative_time_is_relative_to_now() -> None:
    payload = json.dumps([{"n": "/3303/0/5700", "v": 1.5, "t": -60}]).encode()
    (record,) = decode(payload, ContentFormat.SENML_JSON, Path(), lambda _: None)
    assert record.time is not None
    assert abs(record.time - (time.time() - 60)) < 5


def test_senml_cbor_with_integer_labels_and_tagged_base_time() -> None:
    payload = cbor2.dumps(
        [
            {-2: "/3303/0/", -3: cbor2.CBORTag(1, 1700000000), 0: "5700", 2: 22.25},
            {0: "5605", 4: False},
            {0: "5750", 8: b"\x00\x01"},
        ]
    )
    records = decode(payload, ContentFormat.SENML_CBOR, Path(3303, 0), lambda _: None)
    assert records == [
        Record(Path(3303, 0, 5700), 22.25, 1700000000.0),
        Record(Path(3303, 0, 5605), False, 1700000000.0),
        Record(Path(3303, 0, 5750), b"\x00\x01", 1700000000.0),
    ]


def test_lwm2m_cbor_accepts_path_compression_keys() -> None:
    payload = cbor2.dumps({3303: {0: {5700: 1.5}}, 3: {0: {0: "ACME", 6: {0: 1, 1: 5}}}})
    compressed = cbor2.dumps({(3303, 0): {5700: 1.5}, 3: {0: {0: "ACME", 6: {0: 1, 1: 5}}}})
    for raw in (payload, compressed):
        assert sorted(r.path for r in decode(raw, 11544, Path(), lambda _: None)) == [
            Path(3, 0, 0),
            Path(3, 0, 6, 0),
            Path(3, 0, 6, 1),
            Path(3303, 0, 5700),
        ]


def test_lwm2m_json_example() -> None:
    payload = b'{"bn":"/3/0/","e":[{"n":"0","sv":"ACME"},{"n":"9","v":87},{"n":"6/0","v":1}]}'
    assert decode(payload, ContentFormat.LWM2M_JSON, Path(3, 0), device_types) == [
        Record(Path(3, 0, 0), "ACME"),
        Record(Path(3, 0, 9), 87),
        Record(Path(3, 0, 6, 0), 1),
    ]


@pytest.mark.parametrize(
    ("text", "rtype", "value"),
    [
        (b"21.5", ResourceType.FLOAT, 21.5),
        (b"-7", ResourceType.INTEGER, -7),
        (b"1", ResourceType.BOOLEAN, True),
        (b"3:0", ResourceType.OBJLNK, ObjectLink(3, 0)),
        (b"AAE=", ResourceType.OPAQUE, b"\x00\x01"),
    ],
)
def test_text_plain_is_typed_by_the_model(text: bytes, rtype: ResourceType, value: Value) -> None:
    path = Path(1, 0, 1)
    assert decode(text, ContentFormat.TEXT, path, lambda _: rtype) == [Record(path, value)]
