"""The gateway's message decode (coap_decode.py) against aiocoap's own: the same message or
the same error for any datagram, well formed or not, and RFC 7252's byte-exact examples."""

from __future__ import annotations

from typing import Any

import aiocoap
import pytest
from aiocoap.numbers.codes import Code
from aiocoap.numbers.types import Type
from hypothesis import given, settings
from hypothesis import strategies as st

from lwm2m_gateway.coap_decode import decode_message


def _outcome(decode: Any, data: bytes) -> tuple[Any, ...]:
    try:
        message = decode(data)
    except Exception as err:  # what each raises is what is compared
        return ("error", type(err), str(err))
    options = [(option.number, option.encode()) for option in message.opt.option_list()]
    return (message.mtype, message.mid, message.code, message.token, options, message.payload,
            message.direction)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=64))
def test_any_datagram_decodes_as_aiocoap_decodes_it(data: bytes) -> None:
    assert _outcome(decode_message, data) == _outcome(aiocoap.Message.decode, data)


_OPTIONS = st.lists(st.tuples(st.integers(0, 2100), st.binary(max_size=300)), max_size=6).map(
    lambda pairs: sorted(pairs, key=lambda pair: pair[0])
)


@settings(max_examples=1500, deadline=None)
@given(
    mtype=st.sampled_from(list(Type)),
    code=st.integers(0, 255),
    mid=st.integers(0, 0xFFFF),
    token=st.binary(max_size=8),
    options=_OPTIONS,
    payload=st.binary(max_size=40),
)
def test_well_formed_messages_decode_as_aiocoap_decodes_them(
    *, mtype: Type, code: int, mid: int, token: bytes, options: list[tuple[int, bytes]],
    payload: bytes,
) -> None:  # fmt: skip
    """Options with extended deltas and lengths (13 and 14 nibbles), and bodies behind 0xFF;
    built from raw option bytes so that an option aiocoap cannot decode is compared too."""
    data = bytearray([0x40 | mtype << 4 | len(token), code, mid >> 8, mid & 0xFF, *token])
    last = 0
    for number, value in options:
        delta, length = number - last, len(value)
        data += _header(delta, length) + value
        last = number
    if payload:
        data += b"\xff" + payload
    assert _outcome(decode_message, bytes(data)) == _outcome(aiocoap.Message.decode, bytes(data))


def _header(delta: int, length: int) -> bytes:
    def nibble(value: int) -> tuple[int, bytes]:
        if value < 13:
            return value, b""
        if value < 269:
            return 13, bytes([value - 13])
        return 14, (value - 269).to_bytes(2, "big")

    (d, d_ext), (n, n_ext) = nibble(delta), nibble(length)
    return bytes([d << 4 | n]) + d_ext + n_ext


def test_a_get_with_a_token_and_a_uri_path() -> None:
    """CON GET, MID 0x7d34, token 0x20, Uri-Path "temperature" (option 11, 11 bytes), laid
    out by hand after RFC 7252 §3."""
    data = bytes.fromhex("4101 7d34 20".replace(" ", "")) + b"\xbb" + b"temperature"
    message = decode_message(data)
    assert (message.mtype, message.code, message.mid, message.token) == (
        Type.CON, Code.GET, 0x7D34, b"\x20")  # fmt: skip
    assert message.opt.uri_path == ("temperature",)
    assert message.payload == b""


def test_a_notification_s_options_and_payload() -> None:
    """NON 2.05, token 4 bytes, Observe 77 (option 6), Content-Format 110 (option 12)."""
    data = bytes.fromhex("5445 04d2 01020304 614d 616e ff") + b"[]"
    message = decode_message(data)
    assert (message.mtype, message.code, message.mid) == (Type.NON, Code.CONTENT, 1234)
    assert (message.opt.observe, message.opt.content_format) == (77, 110)
    assert message.payload == b"[]"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x40\x01", "too short"),
        (b"\x80\x01\x00\x01", "Version must be 1"),
        (b"\x40\x01\x00\x01\xd1", "ended prematurely"),
        (b"\x40\x01\x00\x01\xb5ab", "announced but absent"),
        (b"\x40\x01\x00\x01\xf0", "partial payload marker"),
    ],
)
def test_malformed_datagrams_raise_aiocoap_s_errors(data: bytes, error: str) -> None:
    with pytest.raises(aiocoap.error.UnparsableMessage, match=error):
        decode_message(data)
