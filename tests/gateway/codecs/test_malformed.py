"""Malformed payloads raise CodecError naming the format and what is wrong, never a crash."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lwm2m_gateway.lwm2m.codecs import SUPPORTED_FORMATS, ContentFormat, decode
from lwm2m_gateway.lwm2m.errors import BadRequest, CodecError
from lwm2m_gateway.lwm2m.links import parse_link_format
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.lwm2m.values import ResourceType


def floats(_: Path) -> ResourceType:
    return ResourceType.FLOAT


@pytest.mark.parametrize(
    ("fmt", "payload", "message"),
    [
        (ContentFormat.TLV, b"\xc8\x00\x14abc", "needs 20 bytes"),
        (ContentFormat.TLV, b"\xe8", "truncated header"),
        (ContentFormat.TLV, b"\xc3\x01abc", "float of 3 bytes"),
        (ContentFormat.SENML_JSON, b"{not json", "not JSON"),
        (ContentFormat.SENML_JSON, b'{"n": "x"}', "not an array"),
        (ContentFormat.SENML_JSON, b'[{"n": "/3303/0/5700", "vs": "hot"}]', "got vs"),
        (ContentFormat.SENML_JSON, b'[{"n": "/3303/x/5700", "v": 1}]', "not a decimal id"),
        (ContentFormat.SENML_JSON, b'[{"n": "/3303/0/5700", "vd": "%%%"}]', "vd"),
        (ContentFormat.SENML_CBOR, b"\xff\x00", "not CBOR"),
        (ContentFormat.LWM2M_JSON, b'{"e": 5}', '"e" array'),
        (ContentFormat.LWM2M_CBOR, b"\x01", "not a map"),
        (ContentFormat.TEXT, b"warm", "expected float"),
        (ContentFormat.TEXT, b"\xff\xfe", "not UTF-8"),
    ],
)
def test_malformed_payload_is_a_codec_error(fmt: int, payload: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        decode(payload, fmt, Path(3303, 0, 1) if fmt == 11542 else Path(3303, 0, 5700), floats)


def test_unknown_content_format_is_named() -> None:
    with pytest.raises(CodecError, match="unsupported content format 9999"):
        decode(b"", 9999, Path(1, 0, 1), floats)


@pytest.mark.parametrize("fmt", sorted(SUPPORTED_FORMATS))
@settings(max_examples=80, deadline=None)
@given(payload=st.binary(max_size=64))
def test_random_bytes_never_escape_as_another_exception(fmt: int, payload: bytes) -> None:
    for base in (Path(3303), Path(3303, 0), Path(3303, 0, 5700), Path(3303, 0, 5700, 1)):
        with contextlib.suppress(CodecError):
            decode(payload, fmt, base, floats)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("</3/0;ver=1", "unterminated"),
        ("/3/0", "expected '<'"),
        ('</3/0>;rt="oma', "unterminated quote"),
        ("</3/0> </4/0>", "expected ','"),
        ("</3/0>;=1", "invalid parameter name"),
    ],
)
def test_malformed_link_format_is_a_bad_request(text: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_link_format(text)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60))
def test_link_format_parser_never_crashes(text: str) -> None:
    with contextlib.suppress(BadRequest):
        parse_link_format(text)


def test_every_supported_format_has_a_decoder_and_the_others_say_why_not() -> None:
    from lwm2m_gateway.lwm2m.codecs import _DECODERS, SUPPORTED_FORMATS

    assert set(_DECODERS) == set(SUPPORTED_FORMATS)
    for fmt, why in [(40, "does not carry resource values"), (9999, "unsupported content format")]:
        with pytest.raises(CodecError, match=why):
            decode(b"x", fmt, Path(3, 0, 0), lambda path: None)
