"""Bounded fuzzing of the entry points: the CoAP routes and the WebSocket frame parser.

Whatever arrives, the gateway answers or drops it, logs no traceback and keeps serving; a
command frame parses to a command or to the reason it is not one, never to an exception.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import tempfile
from pathlib import Path as FilePath
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lwm2m_gateway.api.server import _parse
from lwm2m_gateway.lwm2m.model import ObjectRegistry
from lwm2m_gateway.server import Lwm2mServer, ServerConfig
from lwm2m_gateway.simulator import SimulatedDevice
from lwm2m_gateway.store import Store

OPTION_NUMBERS = (1, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 17, 20, 23, 27, 28, 35, 39, 60, 258, 2049)


@st.composite
def coap_datagrams(draw: st.DrawFn) -> bytes:
    """CoAP-shaped datagrams (valid header, random options and payload) or raw bytes."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=64))
    token = draw(st.binary(max_size=8))
    code = draw(st.sampled_from([1, 2, 3, 4, 5, 6, 7, 0x45, 0x84, draw(st.integers(0, 255))]))
    head = bytes([0x40 | (draw(st.integers(0, 3)) << 4) | len(token), code])
    head += draw(st.integers(0, 0xFFFF)).to_bytes(2, "big") + token
    options, previous = b"", 0
    for number in sorted(draw(st.lists(st.sampled_from(OPTION_NUMBERS), max_size=6))):
        value = draw(st.one_of(st.sampled_from([b"rd", b"dp", b"bs", b"fw", b"ep=x"]),
                               st.binary(max_size=20)))  # fmt: skip
        delta = number - previous
        previous = number
        if delta > 12 or len(value) > 12:
            break  # keep the option encoding simple: small deltas and lengths only
        options += bytes([(delta << 4) | len(value)]) + value
    payload = draw(st.binary(max_size=80))
    return head + options + (b"\xff" + payload if payload else b"")


async def fuzz_server(datagrams: list[bytes], data_dir: FilePath) -> list[logging.LogRecord]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.WARNING)
    logging.getLogger().addHandler(handler)
    store = Store.open(data_dir)
    config = ServerConfig(coap_port=0, coaps_port=None, register_rate=0, request_timeout=2)
    server = Lwm2mServer(store=store, registry=ObjectRegistry.builtin(), config=config)
    await server.start()
    device = SimulatedDevice("survivor", f"coap://127.0.0.1:{server.coap_port}", auto_update=False)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
            for datagram in datagrams:
                raw.sendto(datagram, ("127.0.0.1", server.coap_port))
        await device.start()  # still served, after everything above
        (record,) = await server.device.read("survivor", [_path("/3/0/0")])
        assert record.value == "ha-lwm2m"
    finally:
        await device.stop()
        await server.stop()
        store.close()
        logging.getLogger().removeHandler(handler)
    return records


def _path(text: str) -> Any:
    from lwm2m_gateway.lwm2m.paths import Path

    return Path.parse(text)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)  # each example runs a real server on loopback
@given(st.lists(coap_datagrams(), min_size=1, max_size=60))
def test_fuzzed_datagrams_never_stop_the_server_nor_log_tracebacks(datagrams: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        records = asyncio.run(fuzz_server(datagrams, FilePath(data_dir)))
    assert not [r for r in records if r.exc_info is not None], [r.getMessage() for r in records]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(
    st.one_of(
        st.text(max_size=200),
        JSON.map(json.dumps),
        st.builds(
            lambda message_id, command, args: json.dumps(
                {"message_id": message_id, "command": command, "args": args}
            ),
            JSON,
            st.text(max_size=12),
            JSON,
        ),
    )
)
def test_any_frame_parses_to_a_command_or_to_why_not(frame: str) -> None:
    message, problem = _parse(frame)
    if problem is None:
        assert isinstance(message, dict)
        assert isinstance(message["command"], str)
    else:
        assert isinstance(problem, str)
        assert problem
