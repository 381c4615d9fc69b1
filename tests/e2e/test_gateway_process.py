"""End to end: the real `lwm2m-gateway` process, a simulated device on UDP, HA's harness.

Nothing is in-process but the device and HA: the gateway runs as its own program, as a user
runs it, and is restarted under HA's feet.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path as FilePath

import aiohttp
import pytest
import pytest_socket
from homeassistant.const import (
    ATTR_ENTITY_ID,
    CONF_HOST,
    CONF_PORT,
    SERVICE_TURN_ON,
    STATE_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.const import DOMAIN
from lwm2m_gateway.simulator import SimulatedDevice

LISTENING = re.compile(r"listening coap=udp://[\d.]+:(\d+) api=ws://[\d.]+:(\d+)/ws")


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let HA load custom_components/lwm2m."""


class GatewayProcess:
    def __init__(self, data_dir: FilePath) -> None:
        self.data_dir = data_dir
        self.proc: asyncio.subprocess.Process | None = None
        self.coap_port = 0
        self.api_port = 0

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "lwm2m_gateway", "--coap-port", str(self.coap_port), "--coaps-port", "0",
            "--api-port", str(self.api_port), "--data-dir", str(self.data_dir),
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stderr is not None
        while True:
            line = (await asyncio.wait_for(self.proc.stderr.readline(), 30)).decode()
            assert line, "the gateway exited before listening"
            if match := LISTENING.search(line):
                self.coap_port, self.api_port = int(match[1]), int(match[2])
                self._drain = asyncio.create_task(self._discard(self.proc.stderr))
                return

    @staticmethod
    async def _discard(stream: asyncio.StreamReader) -> None:
        while await stream.readline():
            pass

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.wait(), 30)
            self._drain.cancel()


@pytest.fixture
async def gateway_process(
    socket_enabled: None, tmp_path: FilePath
) -> AsyncIterator[GatewayProcess]:
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::ffff:127.0.0.1", "::1"])
    process = GatewayProcess(tmp_path / "data")
    await process.start()
    yield process
    await process.stop()


async def until(hass: HomeAssistant, check: object, wait_s: float = 15.0) -> None:
    for _ in range(int(wait_s / 0.05)):
        await hass.async_block_till_done()
        if callable(check) and check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


@contextlib.asynccontextmanager
async def api_events(api_port: int) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A client of the gateway's API that listens to its events."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"http://127.0.0.1:{api_port}/ws") as ws,
    ):
        await ws.receive_json()  # server_info
        await ws.send_json({"message_id": 1, "command": "start_listening", "args": {}})
        yield ws


async def wait_event(ws: aiohttp.ClientWebSocketResponse, event: str, endpoint: str) -> None:
    async with asyncio.timeout(15):
        while True:
            message = await ws.receive_json()
            if message.get("event") == event and message["data"].get("endpoint") == endpoint:
                return


async def test_device_to_home_assistant_and_back_through_the_gateway_process(
    hass: HomeAssistant, gateway_process: GatewayProcess
) -> None:
    device = SimulatedDevice(
        "e2e-sensor", f"coap://127.0.0.1:{gateway_process.coap_port}", auto_update=False
    )
    async with api_events(gateway_process.api_port) as events:
        await device.start()
        await wait_event(events, "endpoint_inventoried", "e2e-sensor")  # read by the gateway
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="e2e",
        data={CONF_HOST: "127.0.0.1", CONF_PORT: gateway_process.api_port},
    )  # fmt: skip
    try:
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        registry = er.async_get(hass)
        temperature = registry.async_get_entity_id("sensor", DOMAIN, "e2e-sensor/3303/0/5700")
        switch = registry.async_get_entity_id("switch", DOMAIN, "e2e-sensor/3312/0/5850")
        assert temperature is not None
        assert switch is not None
        assert hass.states.get(temperature).state == "21.5"  # type: ignore[union-attr]

        # a temperature change on the device reaches the HA sensor (Observe/Notify)
        await until(hass, lambda: device.observations != [])
        device.set_value("/3303/0/5700", 27.75)
        await until(hass, lambda: hass.states.get(temperature).state == "27.75")  # type: ignore[union-attr]

        # toggling the HA switch changes the device's resource
        await hass.services.async_call(
            "switch", SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
        )
        assert device.value("/3312/0/5850") is True
        await until(hass, lambda: hass.states.get(switch).state == STATE_ON)  # type: ignore[union-attr]

        # the gateway process restarts; HA stays up and comes back by itself
        await gateway_process.stop()
        await until(hass, lambda: hass.states.get(temperature).state == STATE_UNAVAILABLE)  # type: ignore[union-attr]
        await gateway_process.start()  # same ports, same data directory
        await until(hass, lambda: hass.states.get(temperature).state == "27.75", wait_s=30)  # type: ignore[union-attr]
        device.set_value("/3303/0/5700", 12.5)
        await until(hass, lambda: hass.states.get(temperature).state == "12.5")  # type: ignore[union-attr]

        # the device de-registers: its entities become unavailable
        await device.deregister()
        await until(hass, lambda: hass.states.get(temperature).state == STATE_UNAVAILABLE)  # type: ignore[union-attr]
    finally:
        await device.stop()
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
