"""CoRE link format as registrations and Discover use it (RFC 6690, LwM2M 1.1 core §6.2.1)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lwm2m_gateway.lwm2m.errors import BadRequest
from lwm2m_gateway.lwm2m.links import Link, format_link_format, parse_link_format


def test_registration_payload_with_root_attributes_and_versions() -> None:
    text = '</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</3303/0>;ver=1.1,</5>'
    assert parse_link_format(text) == [
        Link("/", {"rt": "oma.lwm2m", "ct": "11543"}),
        Link("/1/0", {}),
        Link("/3/0", {}),
        Link("/3303/0", {"ver": "1.1"}),
        Link("/5", {}),
    ]


def test_quoted_values_may_hold_commas_and_semicolons() -> None:
    (link,) = parse_link_format('</a>;title="x, y; z";obs')
    assert link.params == {"title": "x, y; z", "obs": None}


def test_discover_answer_with_attributes_and_whitespace() -> None:
    text = "</3/0>;pmin=10;pmax=60,\n </3/0/1>, </3/0/6>;dim=2"
    assert [link.target for link in parse_link_format(text)] == ["/3/0", "/3/0/1", "/3/0/6"]


def test_empty_payload_has_no_links() -> None:
    assert parse_link_format("") == []


names = st.sampled_from(["ver", "ct", "rt", "dim", "pmin", "title", "obs"])
values = st.one_of(st.none(), st.text(alphabet="ab1.,; =", max_size=8))


@given(
    st.lists(
        st.builds(
            Link,
            st.text(alphabet="/0123456789", min_size=1, max_size=12),
            st.dictionaries(names, values, max_size=3),
        ),
        max_size=5,
    )
)
def test_format_then_parse_round_trips(links: list[Link]) -> None:
    assert parse_link_format(format_link_format(links)) == links


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        ("</3/0", "unterminated '<' at offset 0"),
        ("</3/0>;=1", "invalid parameter name '' at offset 7"),
        ("</3/0> </4/0>", "expected ',' or ';' at offset 7"),
        ("</3/0>,", "expected '<' at offset 7"),
        ('</3/0>;ct="1', "unterminated quote at offset 10"),
        ('</3/0>;ver=1"', "ver='1\"' at offset 11 is neither a token nor a quoted string"),
        ("</3/0>;ver=", "ver='' at offset 11"),
    ],
)
def test_malformed_links_name_the_offset(payload: str, names: str) -> None:
    with pytest.raises(BadRequest, match=re.escape(names)):
        parse_link_format(payload)
