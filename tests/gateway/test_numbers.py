"""Numbers from the wire are ASCII digits within range: never a ValueError, never a 5.00."""

from __future__ import annotations

import pytest

from lwm2m_gateway.lwm2m.errors import BadRequest
from lwm2m_gateway.lwm2m.paths import InvalidPath, Path
from lwm2m_gateway.lwm2m.registration import parse_register
from lwm2m_gateway.lwm2m.values import ObjectLink


@pytest.mark.parametrize(
    "text", ["/3303/0/²", "/3303/٣/5700", "/3/0/①", "/3/0/12345678901234567890"]
)
def test_a_path_with_non_ascii_or_huge_digits_is_invalid(text: str) -> None:
    with pytest.raises(InvalidPath):
        Path.parse(text)


@pytest.mark.parametrize("text", ["3:²", "٣:0", "3:99999999999999999999"])
def test_an_object_link_with_non_ascii_digits_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="object link"):
        ObjectLink.parse(text)


@pytest.mark.parametrize("lifetime", ["9" * 400, "²", "4294967296", "-5", "0"])
def test_a_lifetime_out_of_range_is_a_bad_request(lifetime: str) -> None:
    with pytest.raises(BadRequest, match="lt must be"):
        parse_register(["ep=x", f"lt={lifetime}"], b"</3/0>", "127.0.0.1:1")


def test_a_content_format_list_with_non_ascii_digits_is_a_bad_request() -> None:
    payload = '</>;rt="oma.lwm2m";ct="11⁵42",</3/0>'.encode()
    with pytest.raises(BadRequest, match="ct="):
        parse_register(["ep=x"], payload, "127.0.0.1:1")


def test_a_1_0_client_saying_1_0_0_with_its_format_on_the_root_link_is_understood() -> None:
    registration = parse_register(
        ["ep=old", "lwm2m=1.0.0"], b"</>;ct=11543,</3/0>,</3303/0>", "127.0.0.1:1"
    )
    assert registration.lwm2m_version == "1.0"
    assert registration.content_formats == [11543]
    assert sorted(registration.objects) == [3, 3303]
