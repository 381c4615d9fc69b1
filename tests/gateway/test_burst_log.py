"""Routine lines that a storm would multiply: one by one while few, then counted."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiocoap.numbers.codes import Code

from lwm2m_gateway.quiet_log import BurstLog
from tests.gateway.conftest import ServerFactory
from tests.gateway.rawdevice import RawDevice
from tests.gateway.server.test_wire import accept_everything


async def test_lines_past_the_limit_are_counted_in_one_line_when_the_interval_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.burst")
    log = BurstLog(logger, limit=3, interval=0.3)
    with caplog.at_level(logging.INFO, logger="test.burst"):
        for n in range(10):
            log.log("greetings", "hello %d", n)
        assert [r.getMessage() for r in caplog.records] == ["hello 0", "hello 1", "hello 2"]
        await asyncio.sleep(0.4)
        assert caplog.records[-1].getMessage() == (
            "... and 7 more greetings in 0.3 s, not logged one by one"
        )
        log.log("greetings", "hello again")  # a new interval: lines again
        assert caplog.records[-1].getMessage() == "hello again"


async def test_a_registration_storm_logs_a_bounded_number_of_lines(
    make_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    lwm2m, _ = await make_server(register_rate=0, initial_read=False)
    devices = []
    with caplog.at_level(logging.INFO, logger="lwm2m_gateway.server.registrations"):
        for n in range(40):
            device = await RawDevice.start(accept_everything)
            devices.append(device)
            answer = await device.request(
                lwm2m.coap_port, Code.POST, "/rd", [f"ep=storm-{n}"], b"</3/0>"
            )
            assert answer.code == Code.CREATED
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Registered")]
    assert len(lines) == 20
    assert len(lwm2m.registrations.names()) == 40
    for device in devices:
        device.close()
