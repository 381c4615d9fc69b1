"""The demo with a real Home Assistant, driven in headless Chromium as a newcomer would.

`scripts/demo_ha.py` starts the gateway with its simulated devices and a real Home Assistant
core, onboards it and adds the integration through HA's own APIs. Playwright (Node,
`tests/e2e/browser/`) then logs in, opens a device's page, finds its temperature and power
switch, and flips the switch; the simulated device's own resource, read through the gateway,
must follow. A screenshot is kept beside the test's temporary files.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

ROOT = Path(__file__).parents[2]
BROWSER = Path(__file__).parent / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (Debian chromium)"
    if not (BROWSER / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is not installed (npm install in tests/e2e/browser)"
    return None


@pytest.fixture(autouse=True)
def require_browser() -> None:
    reason = missing()
    if reason is not None:
        if os.environ.get("LWM2M_REQUIRE_PEERS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def ha_command(ready: dict[str, Any], message: dict[str, Any]) -> Any:
    url = ready["url"].replace("http://", "ws://") + "/api/websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": ready["token"]})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"id": 1, **message})
        answer = await ws.receive_json()
        assert answer["success"], answer
        return answer["result"]


async def gateway_read(api_port: int, endpoint: str, path: str) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"http://127.0.0.1:{api_port}/ws") as ws,
    ):
        await ws.receive_json()
        await ws.send_json({"message_id": 1, "command": "read",
                            "args": {"endpoint": endpoint, "path": path}})  # fmt: skip
        answer = await ws.receive_json()
        assert answer["success"], answer
        return answer["result"]["values"][0]["value"]


async def test_a_newcomer_sees_live_devices_and_flips_a_switch_in_the_browser(
    socket_enabled: None, tmp_path: Path
) -> None:
    ports = {"--ha-port": free_port(socket.SOCK_STREAM), "--api-port": free_port(socket.SOCK_STREAM),
             "--coap-port": free_port(socket.SOCK_DGRAM), "--coaps-port": free_port(socket.SOCK_DGRAM)}  # fmt: skip
    demo = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "scripts" / "demo_ha.py"), "--workdir", str(tmp_path / "demo"),
        *[str(x) for pair in ports.items() for x in pair],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert demo.stdout is not None
    try:
        ready: dict[str, Any] = {}
        output: list[str] = []
        while not ready:
            line = (await asyncio.wait_for(demo.stdout.readline(), 300)).decode()
            assert line, "the demo ended before it was ready:\n" + "".join(output)
            output.append(line)
            if line.startswith("READY "):
                ready = json.loads(line.removeprefix("READY "))
        assert (ready["username"], ready["password"]) == ("demo", "lwm2m-demo")
        devices = await ha_command(ready, {"type": "config/device_registry/list"})
        device_id = next(d["id"] for d in devices if d["name"] == "demo-0")
        before = await gateway_read(ready["api_port"], "demo-0", "/3312/0/5850")

        screenshot = tmp_path / "demo-0.png"
        browser = await asyncio.create_subprocess_exec(
            "node", str(BROWSER / "toggle_switch.mjs"), ready["url"], ready["username"],
            ready["password"], device_id, str(screenshot),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(browser.communicate(), 120)
        assert browser.returncode == 0, err.decode()
        seen = json.loads(out.decode().strip().splitlines()[-1])
        assert seen["temperature"].startswith("Temperature")
        assert seen["temperature"].endswith("°C")
        assert seen["power_before"] is before
        assert seen["power_after"] is (not before)
        # the simulated device's own resource followed the click
        assert await gateway_read(ready["api_port"], "demo-0", "/3312/0/5850") is (not before)
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        print(f"screenshot: {screenshot}")
    finally:
        if demo.returncode is None:
            demo.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(demo.wait(), 60)
            except TimeoutError:
                demo.kill()
                await demo.wait()
