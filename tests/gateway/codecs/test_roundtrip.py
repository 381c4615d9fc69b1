"""Every codec decodes what it encodes, for any typed record set (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lwm2m_gateway.lwm2m.codecs import ContentFormat, decode, encode
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.lwm2m.values import ObjectLink, Record, ResourceType, Value

# A synthetic object 9000 with one resource of every type; ids >= 100 are multiple-instance.
TYPES = {
    0: ResourceType.STRING,
    1: ResourceType.INTEGER,
    2: ResourceType.UNSIGNED_INTEGER,
    3: ResourceType.FLOAT,
    4: ResourceType.BOOLEAN,
    5: ResourceType.OPAQUE,
    6: ResourceType.TIME,
    7: ResourceType.OBJLNK,
    100: ResourceType.INTEGER,
    101: ResourceType.STRING,
}


def types(path: Path) -> ResourceType | None:
    if path.object_id != 9000 or path.resource_id is None:
        return None
    return TYPES.get(path.resource_id)


def value_of(rtype: ResourceType) -> st.SearchStrategy[Value]:
    match rtype:
        case ResourceType.STRING:
            return st.text(max_size=40)
        case ResourceType.INTEGER | ResourceType.TIME:
            return st.integers(-(2**63), 2**63 - 1)
        case ResourceType.UNSIGNED_INTEGER:
            return st.integers(0, 2**64 - 1)
        case ResourceType.FLOAT:
            return st.floats(allow_nan=False, allow_infinity=False)
        case ResourceType.BOOLEAN:
            return st.booleans()
        case ResourceType.OPAQUE:
            return st.binary(max_size=40)
        case _:
            return st.builds(ObjectLink, st.integers(0, 65535), st.integers(0, 65535))


@st.composite
def instance_records(draw: st.DrawFn, instance: int = 0) -> list[Record]:
    chosen = draw(st.sets(st.sampled_from(sorted(TYPES)), min_size=1))
    records = []
    for rid in sorted(chosen):
        if rid >= 100:
            for riid in sorted(draw(st.sets(st.integers(0, 300), min_size=1, max_size=4))):
                value = draw(value_of(TYPES[rid]))
                records.append(Record(Path(9000, instance, rid, riid), value))
        else:
            records.append(Record(Path(9000, instance, rid), draw(value_of(TYPES[rid]))))
    return records


NAMED_FORMATS = [
    ContentFormat.TLV,
    ContentFormat.OLD_TLV,
    ContentFormat.LWM2M_JSON,
    ContentFormat.OLD_JSON,
    ContentFormat.SENML_JSON,
    ContentFormat.SENML_CBOR,
    ContentFormat.LWM2M_CBOR,
]


def same(left: list[Record], right: list[Record]) -> bool:
    def key(records: list[Record]) -> list[tuple[Path, object]]:
        return sorted((r.path, r.value) for r in records)

    return key(left) == key(right)


@pytest.mark.parametrize("fmt", NAMED_FORMATS, ids=lambda f: f.name)
@settings(max_examples=120, deadline=None)
@given(records=instance_records())
def test_instance_round_trips(fmt: ContentFormat, records: list[Record]) -> None:
    base = Path(9000, 0)
    assert same(decode(encode(records, fmt, base, types), fmt, base, types), records)


@pytest.mark.parametrize("fmt", NAMED_FORMATS, ids=lambda f: f.name)
@settings(max_examples=60, deadline=None)
@given(first=instance_records(0), second=instance_records(7))
def test_object_with_two_instances_round_trips(
    fmt: ContentFormat, first: list[Record], second: list[Record]
) -> None:
    base = Path(9000)
    records = first + second
    assert same(decode(encode(records, fmt, base, types), fmt, base, types), records)


@pytest.mark.parametrize(
    "fmt", [ContentFormat.TEXT, ContentFormat.CBOR, *NAMED_FORMATS], ids=lambda f: f.name
)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_single_resource_round_trips(fmt: ContentFormat, data: st.DataObject) -> None:
    rid = data.draw(st.sampled_from([r for r in TYPES if r < 100]))
    path = Path(9000, 1, rid)
    record = Record(path, data.draw(value_of(TYPES[rid])))
    decoded = decode(encode([record], fmt, path, types), fmt, path, types)
    assert same(decoded, [record])


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=60))
def test_opaque_carries_bytes_unchanged(payload: bytes) -> None:
    path = Path(9000, 0, 5)
    records = decode(payload, ContentFormat.OPAQUE, path, types)
    assert records == [Record(path, payload)]
    assert encode(records, ContentFormat.OPAQUE, path, types) == payload


@pytest.mark.parametrize(
    "fmt", [ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR, ContentFormat.LWM2M_CBOR]
)
def test_composite_payload_at_root_names_full_paths(fmt: ContentFormat) -> None:
    records = [
        Record(Path(9000, 0, 1), 5),
        Record(Path(9000, 3, 0), "x"),
        Record(Path(3303, 0, 5700), 21.5),
    ]
    decoded = decode(encode(records, fmt, Path(), types), fmt, Path(), types)
    assert same(decoded, records)


def test_non_finite_float_survives_cbor_but_not_json() -> None:
    path = Path(9000, 0, 3)
    record = Record(path, math.inf)
    assert decode(encode([record], ContentFormat.CBOR, path, types), 60, path, types) == [record]
    from lwm2m_gateway.lwm2m.errors import CodecError

    with pytest.raises(CodecError, match="cannot carry"):
        encode([record], ContentFormat.SENML_JSON, path, types)
