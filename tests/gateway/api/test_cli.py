"""The `lwm2m-gateway` command as a real process: ports, SIGTERM, kill -9, config errors."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path as FilePath

import aiohttp
import pytest

from lwm2m_gateway.config import ConfigError, load_config
from lwm2m_gateway.simulator import SimulatedDevice

LISTENING = re.compile(r"listening coap=udp://[\d.]+:(\d+) api=(ws://\S+)")


class Process:
    def __init__(self, proc: asyncio.subprocess.Process, coap_port: int, api_url: str) -> None:
        self.proc = proc
        self.coap_port = coap_port
        self.api_url = api_url


async def start(data_dir: FilePath, coap_port: int = 0) -> Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lwm2m_gateway", "--coap-port", str(coap_port), "--coaps-port", "0", "--api-port", "0",
        "--data-dir", str(data_dir), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
        assert line, "the gateway exited before listening"
        if match := LISTENING.search(line):
            return Process(proc, int(match[1]), match[2])


@pytest.fixture
async def processes() -> AsyncIterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        if process.proc.returncode is None:
            process.proc.kill()
            await process.proc.wait()


async def endpoints(url: str) -> list[str]:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.receive_json()
        await ws.send_json({"message_id": 1, "command": "start_listening", "args": {}})
        result = await ws.receive_json()
        return [e["endpoint"] for e in result["result"]["endpoints"]]


async def test_sigterm_stops_the_gateway_cleanly(
    tmp_path: FilePath, processes: list[Process]
) -> None:
    process = await start(tmp_path)
    processes.append(process)
    assert await endpoints(process.api_url) == []
    process.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.proc.wait(), 20) == 0


async def test_kill_9_loses_no_registration(tmp_path: FilePath, processes: list[Process]) -> None:
    first = await start(tmp_path)
    processes.append(first)
    device = SimulatedDevice("durable", f"coap://127.0.0.1:{first.coap_port}", auto_update=False)
    await device.start()
    try:
        for _ in range(50):
            if "durable" in await endpoints(first.api_url):
                break
            await asyncio.sleep(0.1)
        os.kill(first.proc.pid, signal.SIGKILL)
        await first.proc.wait()
        second = await start(tmp_path, coap_port=first.coap_port)
        processes.append(second)
        assert await endpoints(second.api_url) == ["durable"]
        async with aiohttp.ClientSession() as session, session.ws_connect(second.api_url) as ws:
            await ws.receive_json()
            await ws.send_json(
                {
                    "message_id": 2,
                    "command": "read",
                    "args": {"endpoint": "durable", "path": "/3/0/2"},
                }
            )
            result = await ws.receive_json()
        assert result["result"]["values"][0]["value"] == "SN-durable"
    finally:
        await device.stop()


async def test_kill_9_in_a_notification_flood_loses_only_the_last_moment(
    tmp_path: FilePath, processes: list[Process]
) -> None:
    """Last values are written behind (one commit per 100 ms): a kill -9 may cost the readings
    of that last moment, never a registration, and never anything older."""
    first = await start(tmp_path)
    processes.append(first)
    devices = [
        SimulatedDevice(f"flood-{i}", f"coap://127.0.0.1:{first.coap_port}", auto_update=False)
        for i in range(3)
    ]
    for device in devices:
        await device.start()
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(first.api_url) as ws:
            await ws.receive_json()
            for n, device in enumerate(devices):
                for _ in range(50):
                    await ws.send_json({"message_id": 100 * n, "command": "observe",
                                        "args": {"endpoint": device.endpoint,
                                                 "path": "/3303/0/5700"}})  # fmt: skip
                    if (await ws.receive_json())["success"]:
                        break
                    await asyncio.sleep(0.1)
        sent_at: list[float] = []
        loop = asyncio.get_running_loop()
        for value in range(200):  # a notification every 10 ms from each device
            for device in devices:
                device.set_value("/3303/0/5700", float(value))
            sent_at.append(loop.time())
            await asyncio.sleep(0.01)
        killed_at = loop.time()
        os.kill(first.proc.pid, signal.SIGKILL)
        await first.proc.wait()
    finally:
        for device in devices:
            await device.stop()  # the restarted gateway can only show what it stored
    second = await start(tmp_path, coap_port=first.coap_port)
    processes.append(second)
    assert sorted(await endpoints(second.api_url)) == [d.endpoint for d in devices]
    # sent half a second or more before the kill: on disk (the window is 100 ms; the rest is
    # slack for delivery on a busy machine)
    settled = max(i for i, at in enumerate(sent_at) if at <= killed_at - 0.5)
    async with aiohttp.ClientSession() as session, session.ws_connect(second.api_url) as ws:
        await ws.receive_json()
        for n, device in enumerate(devices):
            await ws.send_json({"message_id": n + 1, "command": "get_endpoint",
                                "args": {"endpoint": device.endpoint}})  # fmt: skip
            found = (await ws.receive_json())["result"]
            (temperature,) = [
                r["value"]
                for o in found["objects"] if o["id"] == 3303
                for i in o["instances"] for r in i["resources"] if r["id"] == 5700
            ]  # fmt: skip
            assert settled <= temperature <= 199, (device.endpoint, temperature)


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["--coap-port", "70000"], None, "coap_port"),
        (["--log-level", "LOUD"], None, "log_level"),
        (["--api-host", "0.0.0.0"], None, "set a token"),
        ([], 'coap_port = 5683\ncolour = "blue"\n', "colour"),
        ([], "coap_port = [", "config file"),
        (["--coaps-port", "-1"], None, "coaps_port"),
        (["--unknown-endpoints", "maybe"], None, "invalid choice"),
        ([], 'unknown_endpoints = "maybe"\n', "unknown_endpoints"),
        (["--no-coap", "--no-coaps"], None, "at least one CoAP listener"),
        ([], "register_rate = -1\n", "register_rate"),
    ],
)
async def test_bad_settings_name_the_field_and_exit_2(
    tmp_path: FilePath, args: list[str], config: str | None, message: str
) -> None:
    if config is not None:
        (tmp_path / "gateway.toml").write_text(config)
        args = [*args, "--config", str(tmp_path / "gateway.toml")]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lwm2m_gateway", "--data-dir", str(tmp_path), *args,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert message in err.decode()
    assert "Traceback" not in err.decode()


@pytest.mark.parametrize(
    ("overrides", "policy"),
    [
        ({}, "accept"),  # devices can only come from this host
        ({"coap_host": "0.0.0.0"}, "approve"),  # reachable from other hosts: hold strangers
        ({"coap_host": "192.0.2.10"}, "approve"),
        ({"coap_host": "0.0.0.0", "unknown_endpoints": "accept"}, "accept"),
        ({"unknown_endpoints": "reject"}, "reject"),
    ],
)
def test_unknown_endpoints_default_to_approval_off_loopback(
    tmp_path: FilePath, overrides: dict[str, str], policy: str
) -> None:
    config = load_config(None, {"data_dir": str(tmp_path), **overrides})
    assert config.unknown_endpoints == policy
    assert (config.coaps_port, config.coap_enabled, config.coaps_enabled) == (5684, True, True)


async def refused(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lwm2m_gateway", "--api-port", "0", *args,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2, err.decode()
    text = err.decode()
    assert "Traceback" not in text
    return text


async def test_a_taken_coap_port_is_refused_with_one_clear_line(tmp_path: FilePath) -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        text = await refused("--coap-port", str(port), "--coaps-port", "0",
                             "--data-dir", str(tmp_path))  # fmt: skip
    finally:
        taken.close()
    assert f"cannot listen for coap on 127.0.0.1:{port}" in text
    assert "in use" in text


async def test_a_second_gateway_on_the_same_data_directory_is_refused(tmp_path: FilePath) -> None:
    first = await start(tmp_path)
    try:
        text = await refused("--coap-port", "0", "--coaps-port", "0", "--data-dir", str(tmp_path))
        assert "another gateway is using" in text
    finally:
        first.proc.terminate()
        await first.proc.wait()


async def test_a_data_directory_that_cannot_be_created_is_named(tmp_path: FilePath) -> None:
    (tmp_path / "a-file").write_text("")
    text = await refused("--coap-port", "0", "--coaps-port", "0",
                         "--data-dir", str(tmp_path / "a-file" / "data"))  # fmt: skip
    assert "a-file/data" in text


def test_the_inventory_settings_are_read_and_the_old_queue_setting_is_ignored_with_a_warning(
    tmp_path: FilePath, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "gateway.toml"
    file.write_text("inventory_rate = 5\ninventory_valid_for = 0\ninventory_queue = 1000\n")
    config = load_config(file, {"data_dir": str(tmp_path)})
    assert (config.inventory_rate, config.inventory_valid_for) == (5.0, 0.0)
    assert "inventory_queue is no longer used" in caplog.text
    file.write_text("inventory_rate = -1\n")
    with pytest.raises(ConfigError, match="inventory_rate"):
        load_config(file, {"data_dir": str(tmp_path)})
