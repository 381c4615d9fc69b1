"""Byte-exact vectors written out by hand from the specifications, never produced by our encoder.

Each vector is checked in both directions: decoding it gives the expected Records, and encoding
those Records for the same request path gives exactly the vector back (CBOR and TLV: the same
bytes; JSON: the same parsed document, since neither RFC 8428 nor LwM2M fixes member order).

Sources (LwM2M sections are named by title: their numbers differ between 1.0, 1.1 and 1.2):
- [Core] OMA-TS-LightweightM2M_Core-V1_1 (and V1_2), "Data Formats for Transferring Resource
  Information": Plain Text, Opaque, CBOR, TLV, SenML JSON, SenML CBOR, JSON (LwM2M JSON), and
  in V1_2 LwM2M CBOR; Appendix C "Data Types". The TLV examples ("Single Object Instance
  Request", "Multiple Object Instance Request", "Example of Request on Objects with Object
  Links") are unchanged since LwM2M 1.0 §6.4.3.
- [RFC 8428] SenML: §4.5.1 name resolution (bn + n), §5 (vd is base64url without padding),
  §6 Table 4 (CBOR labels; numbers may be tag 4 decimal fractions).
- [RFC 8949] CBOR: §3 major types, §3.4 tags, §4.1 preferred serialization (shortest float that
  keeps the value).
Device-object values are those of the Core examples (Read /3/0 of the "Open Mobile Alliance"
client); the other values are chosen to exercise one encoding rule each. Cross-checked against
the expectations of Eclipse Leshan, Wakaama and Anjay unit tests (same bytes, not their code).
"""

from __future__ import annotations

import json

import pytest

from lwm2m_gateway.lwm2m.codecs import ContentFormat, decode, encode, encode_paths
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.lwm2m.values import ObjectLink, Record, ResourceType, Value

from .test_spec_examples import DEVICE_RECORDS

INT = ResourceType.INTEGER
STR = ResourceType.STRING
FLOAT = ResourceType.FLOAT
BOOL = ResourceType.BOOLEAN
OPAQUE = ResourceType.OPAQUE
TIME = ResourceType.TIME
OBJLNK = ResourceType.OBJLNK

# (object, resource) -> type, from the OMA object definitions (1 Server, 2 Access Control,
# 3 Device, 5 Firmware Update, 3303 Temperature) and the objects 65/66 of the Core objlnk example.
MODEL: dict[tuple[int, int], ResourceType] = {
    (1, 0): INT,
    (1, 1): INT,
    (1, 2): INT,
    (1, 3): INT,
    (1, 6): BOOL,
    (1, 7): STR,
    (2, 0): INT,
    (2, 1): INT,
    (2, 2): INT,
    (2, 3): INT,
    (3, 0): STR,
    (3, 1): STR,
    (3, 2): STR,
    (3, 3): STR,
    (3, 6): INT,
    (3, 7): INT,
    (3, 8): INT,
    (3, 9): INT,
    (3, 10): INT,
    (3, 11): INT,
    (3, 13): TIME,
    (3, 14): STR,
    (3, 16): STR,
    (5, 0): OPAQUE,
    (5, 1): STR,
    (3303, 5601): FLOAT,
    (3303, 5700): FLOAT,
    (3303, 5701): STR,
    (65, 0): OBJLNK,
    (65, 1): STR,
    (65, 2): INT,
    (66, 0): STR,
    (66, 1): STR,
    (66, 2): OBJLNK,
}


def model(path: Path) -> ResourceType | None:
    return MODEL.get((path.object_id or 0, path.resource_id or 0))


def hexbytes(text: str) -> bytes:
    """Hex written the way the specifications print it: spaced bytes, over several lines."""
    return bytes.fromhex("".join(text.split()))


def assert_bytes_both_ways(payload: bytes, fmt: int, base: Path, records: list[Record]) -> None:
    assert decode(payload, fmt, base, model) == records
    assert encode(records, fmt, base, model).hex(" ") == payload.hex(" ")


def assert_json_both_ways(payload: bytes, fmt: int, base: Path, records: list[Record]) -> None:
    assert decode(payload, fmt, base, model) == records
    assert json.loads(encode(records, fmt, base, model)) == json.loads(payload)


# --- text/plain (0): [Core] Plain Text, Appendix C ------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "path", "value"),
    [
        # Battery level of the Core Read /3/0 example, an Integer as decimal ASCII.
        (b"100", Path(3, 0, 9), 100),
        # Current Time of the Core example, a Time as decimal seconds since 1970 (Appendix C).
        (b"1367491215", Path(3, 0, 13), 1367491215),
        # A String is UTF-8 as is.
        (b"Lightweight M2M Client", Path(3, 0, 1), "Lightweight M2M Client"),
        (b"Gr\xc3\xbcn", Path(3, 0, 0), "Grün"),
        # A Float as decimal text; a Boolean as "0"/"1" (Appendix C).
        (b"21.5", Path(3303, 0, 5700), 21.5),
        (b"-40.25", Path(3303, 0, 5601), -40.25),
        (b"1", Path(1, 0, 6), True),
        (b"0", Path(1, 0, 6), False),
        # An Objlnk as "ObjectID:InstanceID" (Appendix C).
        (b"66:1", Path(66, 0, 2), ObjectLink(66, 1)),
        # Opaque in text/plain is base64 ([Core] Plain Text).
        (b"AQIDBA==", Path(5, 0, 0), b"\x01\x02\x03\x04"),
    ],
)
def test_text_plain_value_matches_appendix_c_representation(
    payload: bytes, path: Path, value: Value
) -> None:
    assert_bytes_both_ways(payload, ContentFormat.TEXT, path, [Record(path, value)])


# --- opaque (42): [Core] Opaque -------------------------------------------------------------------


def test_opaque_firmware_package_write_carries_the_bytes_unchanged() -> None:
    # Write /5/0/0 (Package): the body is the opaque value itself, no framing.
    package = hexbytes("00 ff 10 80 7f 0a 0d 1b")
    assert_bytes_both_ways(
        package, ContentFormat.OPAQUE, Path(5, 0, 0), [Record(Path(5, 0, 0), package)]
    )


# --- CBOR (60): [Core] CBOR, RFC 8949 §3 ----------------------------------------------------------


@pytest.mark.parametrize(
    ("hexed", "path", "value"),
    [
        ("18 64", Path(3, 0, 9), 100),  # major 0, one-byte argument
        ("17", Path(3, 0, 9), 23),  # major 0, value in the initial byte
        ("38 63", Path(3, 0, 10), -100),  # major 1: -1 - 99
        ("1a 51 82 42 8f", Path(3, 0, 13), 1367491215),  # Time as an integer, 4-byte argument
        (
            "74 4f 70 65 6e 20 4d 6f 62 69 6c 65 20 41 6c 6c 69 61 6e 63 65",
            Path(3, 0, 0),
            "Open Mobile Alliance",
        ),  # major 3, 20 bytes
        ("f5", Path(1, 0, 6), True),
        ("f4", Path(1, 0, 6), False),
        ("44 01 02 03 04", Path(5, 0, 0), b"\x01\x02\x03\x04"),  # major 2
        ("64 36 36 3a 31", Path(66, 0, 2), ObjectLink(66, 1)),  # Objlnk as text "66:1"
        # RFC 8949 §4.1 preferred serialization: the shortest float that keeps the value.
        ("f9 4d 60", Path(3303, 0, 5700), 21.5),  # half precision
        ("fa 47 c3 50 00", Path(3303, 0, 5700), 100000.0),  # single precision
        ("fb 40 36 66 66 66 66 66 66", Path(3303, 0, 5700), 22.4),  # double precision
    ],
)
def test_cbor_single_value_matches_rfc_8949_encoding(hexed: str, path: Path, value: Value) -> None:
    assert_bytes_both_ways(hexbytes(hexed), ContentFormat.CBOR, path, [Record(path, value)])


@pytest.mark.parametrize(
    ("hexed", "path", "value"),
    [
        # RFC 8949 §3.4.2: tag 1, epoch-based time (Anjay writes Time resources this way).
        ("c1 1a 51 82 42 8f", Path(3, 0, 13), 1367491215),
        # RFC 8949 §3.4.4: tag 4, decimal fraction [-1, 215] = 21.5.
        ("c4 82 20 18 d7", Path(3303, 0, 5700), 21.5),
    ],
)
def test_cbor_tagged_time_and_decimal_fraction_decode_to_plain_numbers(
    hexed: str, path: Path, value: Value
) -> None:
    assert decode(hexbytes(hexed), ContentFormat.CBOR, path, model) == [Record(path, value)]


# --- TLV (11542, 1542): [Core] TLV and its examples -----------------------------------------------

MANUFACTURER_TLV = "c8 00 14 4f 70 65 6e 20 4d 6f 62 69 6c 65 20 41 6c 6c 69 61 6e 63 65"


def test_tlv_single_resource_matches_core_example() -> None:
    # Read /3/0/0: one Resource TLV (type 11, 8-bit id, 8-bit length 0x14 = 20).
    path = Path(3, 0, 0)
    assert_bytes_both_ways(
        hexbytes(MANUFACTURER_TLV), ContentFormat.TLV, path, [Record(path, "Open Mobile Alliance")]
    )


def test_tlv_multiple_resource_instances_match_core_example() -> None:
    # Read /3/0/7 (Power Source Voltage): a Multiple Resource TLV holding two instances.
    payload = hexbytes("88 07 08  42 00 0e d8  42 01 13 88")
    records = [Record(Path(3, 0, 7, 0), 3800), Record(Path(3, 0, 7, 1), 5000)]
    assert_bytes_both_ways(payload, ContentFormat.TLV, Path(3, 0, 7), records)


def test_tlv_resource_instance_is_a_single_resource_instance_tlv() -> None:
    # Read /3/0/7/1: one Resource Instance TLV (type 01).
    path = Path(3, 0, 7, 1)
    assert_bytes_both_ways(hexbytes("42 01 13 88"), ContentFormat.TLV, path, [Record(path, 5000)])


def test_tlv_access_control_object_instances_match_core_example() -> None:
    # Read /2: two Object Instance TLVs; instance 2's ACL has instance 310 (0x0136), which needs
    # a 16-bit id (header 0x61).
    payload = hexbytes(
        """
        08 00 0e  c1 00 01  c1 01 00  83 02 41 7f 07  c1 03 7f
        08 02 12  c1 00 03  c1 01 00  87 02 41 7f 07 61 01 36 01  c1 03 7f
        """
    )
    records = [
        Record(Path(2, 0, 0), 1),
        Record(Path(2, 0, 1), 0),
        Record(Path(2, 0, 2, 127), 7),
        Record(Path(2, 0, 3), 127),
        Record(Path(2, 2, 0), 3),
        Record(Path(2, 2, 1), 0),
        Record(Path(2, 2, 2, 127), 7),
        Record(Path(2, 2, 2, 310), 1),
        Record(Path(2, 2, 3), 127),
    ]
    assert_bytes_both_ways(payload, ContentFormat.TLV, Path(2), records)
    assert_bytes_both_ways(payload, ContentFormat.OLD_TLV, Path(2), records)


def test_tlv_server_object_matches_core_example() -> None:
    # Read /1: Lifetime 86400 needs 4 bytes; Notification Storing is a 1-byte Boolean.
    # (The Core 1.1 table prints the instance length as 0x0d; the 15 bytes it holds need 0x0f,
    # as the LwM2M 1.0 example and Leshan have it.)
    payload = hexbytes("08 00 0f  c1 00 01  c4 01 00 01 51 80  c1 06 01  c1 07 55")
    records = [
        Record(Path(1, 0, 0), 1),
        Record(Path(1, 0, 1), 86400),
        Record(Path(1, 0, 6), True),
        Record(Path(1, 0, 7), "U"),
    ]
    assert_bytes_both_ways(payload, ContentFormat.TLV, Path(1), records)


def test_tlv_write_of_a_single_float_resource_uses_a_16_bit_id() -> None:
    # Write /3303/0/5700: id 5700 = 0x1644 sets bit 5 (header 0xe4); 21.5 fits a 4-byte float.
    path = Path(3303, 0, 5700)
    assert_bytes_both_ways(
        hexbytes("e4 16 44 41 ac 00 00"), ContentFormat.TLV, path, [Record(path, 21.5)]
    )


def test_tlv_float_that_needs_double_precision_is_8_bytes() -> None:
    # 22.4 has no exact single-precision form: length 8 needs the 8-bit length field (0xe8).
    path = Path(3303, 0, 5700)
    payload = hexbytes("e8 16 44 08  40 36 66 66 66 66 66 66")
    assert_bytes_both_ways(payload, ContentFormat.TLV, path, [Record(path, 22.4)])


def test_tlv_object_links_match_core_example_of_object_65() -> None:
    # Read /65/0: resource 0 holds Objlnk instances 66:0 and 66:1 (4 bytes each: 0x0042 0x0000),
    # resource 1 a String, resource 2 the Integer 0x12345678.
    payload = hexbytes(
        """
        88 00 0c  44 00 00 42 00 00  44 01 00 42 00 01
        c8 01 0d  38 36 31 33 38 30 30 37 35 35 35 30 30
        c4 02 12 34 56 78
        """
    )
    records = [
        Record(Path(65, 0, 0, 0), ObjectLink(66, 0)),
        Record(Path(65, 0, 0, 1), ObjectLink(66, 1)),
        Record(Path(65, 0, 1), "8613800755500"),
        Record(Path(65, 0, 2), 0x12345678),
    ]
    assert_bytes_both_ways(payload, ContentFormat.TLV, Path(65, 0), records)


def test_tlv_object_links_match_core_example_of_object_66() -> None:
    # Read /66: two instances, each linking with resource 2 (67:0, and 65535:65535 = no link).
    payload = hexbytes(
        """
        08 00 26
          c8 00 0b 6d 79 53 65 72 76 69 63 65 20 31
          c8 01 0f 49 6e 74 65 72 6e 65 74 2e 31 35 2e 32 33 34
          c4 02 00 43 00 00
        08 01 26
          c8 00 0b 6d 79 53 65 72 76 69 63 65 20 32
          c8 01 0f 49 6e 74 65 72 6e 65 74 2e 31 35 2e 32 33 35
          c4 02 ff ff ff ff
        """
    )
    records = [
        Record(Path(66, 0, 0), "myService 1"),
        Record(Path(66, 0, 1), "Internet.15.234"),
        Record(Path(66, 0, 2), ObjectLink(67, 0)),
        Record(Path(66, 1, 0), "myService 2"),
        Record(Path(66, 1, 1), "Internet.15.235"),
        Record(Path(66, 1, 2), ObjectLink(65535, 65535)),
    ]
    assert_bytes_both_ways(payload, ContentFormat.TLV, Path(66), records)


def test_tlv_value_longer_than_255_bytes_uses_a_16_bit_length() -> None:
    # Write /5/0/0 with 300 bytes: length type 10 (header 0xd0), length 0x012c.
    path = Path(5, 0, 0)
    package = bytes(range(256)) + bytes(44)
    payload = hexbytes("d0 00 01 2c") + package
    assert_bytes_both_ways(payload, ContentFormat.TLV, path, [Record(path, package)])


@pytest.mark.parametrize(
    ("hexed", "value"),
    [
        ("c1 09 7f", 127),
        ("c2 09 00 80", 128),
        ("c1 09 ff", -1),
        ("c2 09 ff 7f", -129),
        ("c4 09 80 00 00 00", -(2**31)),
        ("c8 09 08 00 00 00 00 80 00 00 00", 2**31),
    ],
)
def test_tlv_integer_is_twos_complement_in_1_2_4_or_8_bytes(hexed: str, value: int) -> None:
    # Appendix C: Integer is a signed big-endian 1, 2, 4 or 8 byte value.
    path = Path(3, 0, 9)
    assert_bytes_both_ways(hexbytes(hexed), ContentFormat.TLV, path, [Record(path, value)])


# --- LwM2M JSON (11543, 1543): [Core] JSON --------------------------------------------------------

DEVICE_LWM2M_JSON = b"""
{"bn":"/3/0/",
 "e":[
  {"n":"0","sv":"Open Mobile Alliance"},
  {"n":"1","sv":"Lightweight M2M Client"},
  {"n":"2","sv":"345000123"},
  {"n":"3","sv":"1.0"},
  {"n":"6/0","v":1},
  {"n":"6/1","v":5},
  {"n":"7/0","v":3800},
  {"n":"7/1","v":5000},
  {"n":"8/0","v":125},
  {"n":"8/1","v":900},
  {"n":"9","v":100},
  {"n":"10","v":15},
  {"n":"11/0","v":0},
  {"n":"13","v":1367491215},
  {"n":"14","sv":"+02:00"},
  {"n":"16","sv":"U"}]
}
"""


def test_lwm2m_json_device_instance_matches_core_example() -> None:
    assert_json_both_ways(DEVICE_LWM2M_JSON, ContentFormat.LWM2M_JSON, Path(3, 0), DEVICE_RECORDS)
    assert_json_both_ways(DEVICE_LWM2M_JSON, ContentFormat.OLD_JSON, Path(3, 0), DEVICE_RECORDS)


def test_lwm2m_json_single_resource_write_names_the_resource_under_the_instance() -> None:
    # Write /3/0/14: bn is the object instance and n the resource id, as Leshan and Wakaama
    # clients expect (not bn "/3/0/14" with an empty name).
    payload = b'{"bn":"/3/0/","e":[{"n":"14","sv":"+02:00"}]}'
    records = [Record(Path(3, 0, 14), "+02:00")]
    assert_json_both_ways(payload, ContentFormat.LWM2M_JSON, Path(3, 0, 14), records)


def test_lwm2m_json_single_resource_with_empty_name_is_still_accepted() -> None:
    payload = b'{"bn":"/3/0/14","e":[{"sv":"+02:00"}]}'
    assert decode(payload, ContentFormat.LWM2M_JSON, Path(3, 0, 14), model) == [
        Record(Path(3, 0, 14), "+02:00")
    ]


def test_lwm2m_json_multiple_resource_write_names_instances_under_the_object_instance() -> None:
    payload = b'{"bn":"/3/0/","e":[{"n":"7/0","v":3800},{"n":"7/1","v":5000}]}'
    records = [Record(Path(3, 0, 7, 0), 3800), Record(Path(3, 0, 7, 1), 5000)]
    assert_json_both_ways(payload, ContentFormat.LWM2M_JSON, Path(3, 0, 7), records)


def test_lwm2m_json_value_keys_for_boolean_objlnk_and_opaque() -> None:
    # bv for Boolean, ov for Objlnk, sv with base64 for Opaque ([Core] JSON, value table).
    payload = b'{"bn":"/66/0/","e":[{"n":"2","ov":"66:1"}]}'
    assert_json_both_ways(
        payload, ContentFormat.LWM2M_JSON, Path(66, 0), [Record(Path(66, 0, 2), ObjectLink(66, 1))]
    )
    payload = b'{"bn":"/1/0/","e":[{"n":"6","bv":true}]}'
    assert_json_both_ways(
        payload, ContentFormat.LWM2M_JSON, Path(1, 0), [Record(Path(1, 0, 6), True)]
    )
    payload = b'{"bn":"/5/0/","e":[{"n":"0","sv":"+/8="}]}'
    assert_json_both_ways(
        payload, ContentFormat.LWM2M_JSON, Path(5, 0), [Record(Path(5, 0, 0), b"\xfb\xff")]
    )


def test_lwm2m_json_root_read_names_full_paths_under_the_root_base_name() -> None:
    # The objlnk example of object 65 as LwM2M JSON of a Read on "/" (bn "/", ov for Objlnk).
    payload = b"""
    {"bn":"/","e":[
      {"n":"65/0/0/0","ov":"66:0"},
      {"n":"65/0/0/1","ov":"66:1"},
      {"n":"65/0/1","sv":"8613800755500"},
      {"n":"65/0/2","v":305419896}]}
    """
    records = [
        Record(Path(65, 0, 0, 0), ObjectLink(66, 0)),
        Record(Path(65, 0, 0, 1), ObjectLink(66, 1)),
        Record(Path(65, 0, 1), "8613800755500"),
        Record(Path(65, 0, 2), 0x12345678),
    ]
    assert_json_both_ways(payload, ContentFormat.LWM2M_JSON, Path(), records)


def test_lwm2m_json_name_with_a_leading_slash_joins_a_base_name_without_one() -> None:
    # bn + n is a plain concatenation (as in SenML): "/5/0" + "/1" is /5/0/1 (Wakaama's form).
    payload = b'{"bn":"/5/0","e":[{"n":"/1","sv":"coap://fw.example/pkg"}]}'
    assert decode(payload, ContentFormat.LWM2M_JSON, Path(5, 0), model) == [
        Record(Path(5, 0, 1), "coap://fw.example/pkg")
    ]


def test_lwm2m_json_times_are_base_time_plus_entry_time() -> None:
    # A Notify with two historical values: t is relative to bt; an entry without t is at bt.
    payload = b"""
    {"bn":"/3303/0/","bt":1700000000,"e":[
      {"n":"5700","v":22.4,"t":-5},
      {"n":"5700","v":22.9}]}
    """
    assert decode(payload, ContentFormat.LWM2M_JSON, Path(3303, 0, 5700), model) == [
        Record(Path(3303, 0, 5700), 22.4, 1699999995.0),
        Record(Path(3303, 0, 5700), 22.9, 1700000000.0),
    ]


# --- SenML JSON (110): [Core] SenML JSON, RFC 8428 ------------------------------------------------

DEVICE_SENML_JSON = b"""
[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},
 {"n":"1","vs":"Lightweight M2M Client"},
 {"n":"2","vs":"345000123"},
 {"n":"3","vs":"1.0"},
 {"n":"6/0","v":1},
 {"n":"6/1","v":5},
 {"n":"7/0","v":3800},
 {"n":"7/1","v":5000},
 {"n":"8/0","v":125},
 {"n":"8/1","v":900},
 {"n":"9","v":100},
 {"n":"10","v":15},
 {"n":"11/0","v":0},
 {"n":"13","v":1367491215},
 {"n":"14","vs":"+02:00"},
 {"n":"16","vs":"U"}]
"""


def test_senml_json_device_instance_matches_core_example() -> None:
    assert_json_both_ways(DEVICE_SENML_JSON, ContentFormat.SENML_JSON, Path(3, 0), DEVICE_RECORDS)


def test_senml_json_single_resource_has_the_full_path_as_base_name() -> None:
    # Read /3/0/0: the base name is the full path and there is no name.
    payload = b'[{"bn":"/3/0/0","vs":"Open Mobile Alliance"}]'
    path = Path(3, 0, 0)
    assert_json_both_ways(
        payload, ContentFormat.SENML_JSON, path, [Record(path, "Open Mobile Alliance")]
    )


def test_senml_json_opaque_is_base64url_without_padding() -> None:
    # RFC 8428 §5: vd is base64url (RFC 4648 §5) with the padding removed; fb ff is "-_8".
    payload = b'[{"bn":"/5/0/0","vd":"-_8"}]'
    path = Path(5, 0, 0)
    assert_json_both_ways(payload, ContentFormat.SENML_JSON, path, [Record(path, b"\xfb\xff")])


def test_senml_json_objlnk_uses_the_lwm2m_vlo_field() -> None:
    payload = b'[{"bn":"/65/0/","n":"0/0","vlo":"66:0"},{"n":"0/1","vlo":"66:1"}]'
    records = [
        Record(Path(65, 0, 0, 0), ObjectLink(66, 0)),
        Record(Path(65, 0, 0, 1), ObjectLink(66, 1)),
    ]
    assert_json_both_ways(payload, ContentFormat.SENML_JSON, Path(65, 0), records)


def test_senml_json_composite_read_request_lists_the_paths() -> None:
    # [Core] Read-Composite request body: one record per path, a name and no value.
    payload = b'[{"n":"/3/0/0"},{"n":"/3/0/9"},{"n":"/1/0/1"}]'
    paths = [Path(3, 0, 0), Path(3, 0, 9), Path(1, 0, 1)]
    assert json.loads(encode_paths(paths, ContentFormat.SENML_JSON)) == json.loads(payload)


def test_senml_json_composite_response_names_each_path_in_full() -> None:
    # Read-Composite response (or Write-Composite request): records from unrelated objects.
    payload = b'[{"n":"/3/0/9","v":100},{"n":"/3303/0/5700","v":21.5}]'
    records = [Record(Path(3, 0, 9), 100), Record(Path(3303, 0, 5700), 21.5)]
    assert_json_both_ways(payload, ContentFormat.SENML_JSON, Path(), records)


# --- SenML CBOR (112): [Core] SenML CBOR, RFC 8428 §6 ---------------------------------------------


def test_senml_cbor_single_resource_uses_integer_labels() -> None:
    # [{-2 (bn): "/3/0/0", 3 (vs): "Open Mobile Alliance"}]
    payload = hexbytes(
        "81 a2  21 66 2f 33 2f 30 2f 30  03 74 4f 70 65 6e 20 4d 6f 62 69 6c 65 20 41 6c 6c 69 61"
        " 6e 63 65"
    )
    path = Path(3, 0, 0)
    assert_bytes_both_ways(
        payload, ContentFormat.SENML_CBOR, path, [Record(path, "Open Mobile Alliance")]
    )


def test_senml_cbor_multiple_resource_names_the_instances() -> None:
    # [{-2: "/3/0/7/", 0 (n): "0", 2 (v): 3800}, {0: "1", 2: 5000}]
    payload = hexbytes(
        "82  a3 21 67 2f 33 2f 30 2f 37 2f  00 61 30  02 19 0e d8  a2 00 61 31  02 19 13 88"
    )
    records = [Record(Path(3, 0, 7, 0), 3800), Record(Path(3, 0, 7, 1), 5000)]
    assert_bytes_both_ways(payload, ContentFormat.SENML_CBOR, Path(3, 0, 7), records)


@pytest.mark.parametrize(
    ("hexed", "path", "value"),
    [
        # [{-2 (bn): "/1/0/6", 4 (vb): true}]
        ("81 a2 21 66 2f 31 2f 30 2f 36  04 f5", Path(1, 0, 6), True),
        # [{-2: "/5/0/0", 8 (vd): h'fbff'}]: a byte string, no base64 in CBOR
        ("81 a2 21 66 2f 35 2f 30 2f 30  08 42 fb ff", Path(5, 0, 0), b"\xfb\xff"),
        # [{-2: "/3303/0/5700", 2 (v): 21.5}]: a half float (RFC 8949 §4.1)
        ("81 a2 21 6c 2f 33 33 30 33 2f 30 2f 35 37 30 30  02 f9 4d 60", Path(3303, 0, 5700), 21.5),
        # [{-2: "/66/0/2", "vlo": "66:1"}]: the LwM2M objlnk field keeps its text label
        (
            "81 a2 21 67 2f 36 36 2f 30 2f 32  63 76 6c 6f 64 36 36 3a 31",
            Path(66, 0, 2),
            ObjectLink(66, 1),
        ),
    ],
)
def test_senml_cbor_value_labels_match_rfc_8428_table_4(
    hexed: str, path: Path, value: Value
) -> None:
    assert_bytes_both_ways(hexbytes(hexed), ContentFormat.SENML_CBOR, path, [Record(path, value)])


def test_senml_cbor_composite_read_request_lists_the_paths() -> None:
    # [{0 (n): "/3/0/0"}, {0: "/1/0/1"}]
    payload = hexbytes("82  a1 00 66 2f 33 2f 30 2f 30  a1 00 66 2f 31 2f 30 2f 31")
    paths = [Path(3, 0, 0), Path(1, 0, 1)]
    assert encode_paths(paths, ContentFormat.SENML_CBOR).hex(" ") == payload.hex(" ")


def test_senml_cbor_numbers_may_be_decimal_fractions() -> None:
    # RFC 8428 §6: a number may be a tag 4 decimal fraction; Leshan writes bt as 4([0, t]).
    # [{-2: "/3303/0/5700", -3 (bt): 4([0, 1700000000]), 2 (v): 4([-1, 215])}]
    payload = hexbytes(
        "81 a3  21 6c 2f 33 33 30 33 2f 30 2f 35 37 30 30"
        "  22 c4 82 00 1a 65 53 f1 00  02 c4 82 20 18 d7"
    )
    assert decode(payload, ContentFormat.SENML_CBOR, Path(3303, 0, 5700), model) == [
        Record(Path(3303, 0, 5700), 21.5, 1700000000.0)
    ]


# --- LwM2M CBOR (11544): [Core 1.2] LwM2M CBOR ----------------------------------------------------


def test_lwm2m_cbor_single_resource_is_nested_from_the_root() -> None:
    # Read /3/0/9: {3: {0: {9: 100}}}
    path = Path(3, 0, 9)
    assert_bytes_both_ways(
        hexbytes("a1 03 a1 00 a1 09 18 64"), ContentFormat.LWM2M_CBOR, path, [Record(path, 100)]
    )


def test_lwm2m_cbor_multiple_resource_instances_are_a_map() -> None:
    # Read /3/0/7: {3: {0: {7: {0: 3800, 1: 5000}}}}
    payload = hexbytes("a1 03 a1 00 a1 07 a2 00 19 0e d8 01 19 13 88")
    records = [Record(Path(3, 0, 7, 0), 3800), Record(Path(3, 0, 7, 1), 5000)]
    assert_bytes_both_ways(payload, ContentFormat.LWM2M_CBOR, Path(3, 0, 7), records)


def test_lwm2m_cbor_float_uses_the_shortest_form() -> None:
    # Read /3303/0/5700: {3303: {0: {5700: 21.5}}}, 3303 = 0x0ce7, 5700 = 0x1644
    path = Path(3303, 0, 5700)
    payload = hexbytes("a1 19 0c e7 a1 00 a1 19 16 44 f9 4d 60")
    assert_bytes_both_ways(payload, ContentFormat.LWM2M_CBOR, path, [Record(path, 21.5)])


def test_lwm2m_cbor_object_read_nests_instances() -> None:
    # Read /3303: {3303: {0: {5700: 21.5}, 1: {5700: -40.25}}}; -40.25 is half f9 d1 08
    payload = hexbytes("a1 19 0c e7 a2  00 a1 19 16 44 f9 4d 60  01 a1 19 16 44 f9 d1 08")
    records = [Record(Path(3303, 0, 5700), 21.5), Record(Path(3303, 1, 5700), -40.25)]
    assert_bytes_both_ways(payload, ContentFormat.LWM2M_CBOR, Path(3303), records)


def test_lwm2m_cbor_composite_response_merges_paths_from_the_root() -> None:
    # Read-Composite of /3/0/9 and /3303/0/5700: {3: {0: {9: 100}}, 3303: {0: {5700: 21.5}}}
    payload = hexbytes("a2  03 a1 00 a1 09 18 64  19 0c e7 a1 00 a1 19 16 44 f9 4d 60")
    records = [Record(Path(3, 0, 9), 100), Record(Path(3303, 0, 5700), 21.5)]
    assert_bytes_both_ways(payload, ContentFormat.LWM2M_CBOR, Path(), records)


def test_lwm2m_cbor_indefinite_lengths_and_tagged_time_decode() -> None:
    # What streaming clients (Anjay) send: indefinite-length maps (RFC 8949 §3.2.2), a chunked
    # text string, and Time as tag 1.
    # {_ 3: {_ 0: {_ 13: 1(1367491215), 0: (_ "Open ", "Mobile Alliance")}}}
    payload = hexbytes(
        """
        bf 03 bf 00 bf
          0d c1 1a 51 82 42 8f
          00 7f 65 4f 70 65 6e 20 6f 4d 6f 62 69 6c 65 20 41 6c 6c 69 61 6e 63 65 ff
        ff ff ff
        """
    )
    assert decode(payload, ContentFormat.LWM2M_CBOR, Path(3, 0), model) == [
        Record(Path(3, 0, 13), 1367491215),
        Record(Path(3, 0, 0), "Open Mobile Alliance"),
    ]
