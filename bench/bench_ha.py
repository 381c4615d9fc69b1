"""Home Assistant benchmark: N devices (~5 entities each) into HA, then notify-to-state latency.

    .venv/bin/pytest bench/bench_ha.py -s -q        (BENCH_DEVICES=1000 BENCH_RATE=1000)

Runs in HA's own test harness (a real HomeAssistant core), with the real gateway process and the
light load generator in a second process, all on 127.0.0.1. Prints the entry set-up time (from
async_setup to every entity present) and the latency from a device sending a notification to the
HA state changing, p50/p99, at the offered rate. Nothing is asserted but that it ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import pytest
import pytest_socket
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent)]
from bench_gateway import LoadProcess, percentile, start_gateway  # noqa: E402

from custom_components.lwm2m.const import DOMAIN  # noqa: E402

DEVICES = int(os.environ.get("BENCH_DEVICES", "1000"))
RATE = float(os.environ.get("BENCH_RATE", "1000"))
DURATION = float(os.environ.get("BENCH_DURATION", "10"))


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let HA load custom_components/lwm2m."""


@pytest.fixture
def expected_lingering_timers() -> bool:
    return True


@pytest.fixture(autouse=True)
def enable_event_loop_debug(event_loop: asyncio.AbstractEventLoop) -> None:
    """Replaces the harness's fixture of that name, which runs the loop in asyncio's debug mode:
    a stack trace for every task and callback, more than half of the benchmark's CPU (profiled).
    Home Assistant runs without it, and so does the benchmark."""
    event_loop.set_debug(False)


async def all_inventoried(api_url: str) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(api_url) as ws:
        await ws.receive_json()  # server_info
        for attempt in range(600):
            await ws.send_json({"message_id": attempt, "command": "start_listening"})
            while (answer := await ws.receive_json()).get("message_id") != attempt:
                pass  # an event
            endpoints = answer["result"]["endpoints"]
            if len(endpoints) >= DEVICES and all(e["inventoried_at"] for e in endpoints):
                return
            await asyncio.sleep(0.5)


@pytest.mark.timeout(1800)
async def test_home_assistant_with_many_devices(hass: HomeAssistant, socket_enabled: None) -> None:
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::ffff:127.0.0.1"])
    with tempfile.TemporaryDirectory() as data_dir:
        proc, coap_port, api_url = await start_gateway(data_dir, "inventory_rate = 1000\n")
        load = await LoadProcess.start(coap_port, DEVICES, "ha-", 100, rich=True)
        try:
            await load.answer()  # every device registered
            await all_inventoried(api_url)  # the gateway's Discover + Read of each device
            api_port = int(api_url.rsplit(":", 1)[1].split("/")[0])
            entry = MockConfigEntry(
                domain=DOMAIN, unique_id="bench", data={CONF_HOST: "127.0.0.1", CONF_PORT: api_port}
            )
            entry.add_to_hass(hass)
            started = time.perf_counter()
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            registry = er.async_get(hass)
            sensors: dict[str, str] = {}
            while len(sensors) < DEVICES and time.perf_counter() - started < 600:
                for index in range(DEVICES):
                    unique_id = f"ha-{index:05d}/3303/0/5700"
                    if unique_id not in sensors:
                        found = registry.async_get_entity_id("sensor", DOMAIN, unique_id)
                        if found is not None:
                            sensors[unique_id] = found
                await asyncio.sleep(0.1)
            setup_s = time.perf_counter() - started
            entities = len(er.async_entries_for_config_entry(registry, entry.entry_id))

            observed = 0
            deadline = time.perf_counter() + 300
            while observed < DEVICES and time.perf_counter() < deadline:
                observed = (await load.notify(1, 0.05))["observed"]
                await asyncio.sleep(0.5)

            watched = set(sensors.values())
            latencies: list[float] = []
            arrivals: list[tuple[float, float]] = []

            @callback  # on the loop: a plain function would run in the executor per change
            def state_changed(event: Event[EventStateChangedData]) -> None:
                new = event.data["new_state"]
                if event.data["entity_id"] in watched and new is not None:
                    with contextlib.suppress(ValueError):
                        if float(new.state) < notify_started:
                            return  # the tail of the set-up's observes, not a notification
                        now = time.time()
                        latencies.append(now - float(new.state))
                        arrivals.append((now, now - float(new.state)))

            await asyncio.sleep(1.0)  # the observes' first values settle
            await hass.async_block_till_done()
            notify_started = time.time()
            unsubscribe = hass.bus.async_listen("state_changed", state_changed)
            sent = (await load.notify(RATE, DURATION))["sent"]
            await asyncio.sleep(1.0)
            unsubscribe()
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
        finally:
            await load.stop()
            proc.terminate()
            await proc.wait()
    if os.environ.get("BENCH_TIMELINE"):
        start = arrivals[0][0] if arrivals else 0.0
        for second in range(int(DURATION) + 2):
            window = [lag for at, lag in arrivals if second <= at - start < second + 1]
            print(
                f"  second {second}: {len(window)} changes, max {1000 * max(window, default=0):.1f} ms"
            )
    print(f"\n== Home Assistant: {DEVICES} devices, {RATE:g} notifications/s offered")
    print(f"  entities created                 {entities:10}")
    print(f"  entry set-up to all entities     {setup_s:10.2f} s")
    print(f"  devices observed                 {observed:10}")
    print(f"  notifications sent               {sent:10}")
    print(f"  HA state changes                 {len(latencies):10}")
    print(f"  notify-to-HA-state p50           {1000 * percentile(latencies, 0.5):10.2f} ms")
    print(f"  notify-to-HA-state p99           {1000 * percentile(latencies, 0.99):10.2f} ms")
    assert entities >= DEVICES
