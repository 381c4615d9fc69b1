"""The demo with a real Home Assistant: `./scripts/demo --with-ha`.

Starts the gateway with its simulated devices (`python -m lwm2m_gateway.demo`), a real Home
Assistant core on 127.0.0.1 with a prepared configuration (frontend, config, history, logbook)
and this repository's integration, onboards it through its own onboarding API, adds the LwM2M
integration through its config flow API, and prints the URL and the login. Ctrl-C stops all.

Everything lives in a temporary directory unless --workdir is given; nothing leaves loopback.
A line `READY {json}` on standard output tells a program driving the demo that it may start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).parents[1]
CLIENT_ID = "http://127.0.0.1/"  # any URL: Home Assistant's auth takes the client id as a URL
USER, PASSWORD = "demo", "lwm2m-demo"
CONFIGURATION = """\
homeassistant:
  name: LwM2M demo
  unit_system: metric
  time_zone: UTC
  country: DE
  latitude: 52.52
  longitude: 13.40
  elevation: 34
frontend:
config:
history:
logbook:
http:
  server_host: 127.0.0.1
  server_port: {port}
logger:
  default: warning
"""


async def wait_http(session: aiohttp.ClientSession, url: str, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with session.get(url) as response:
                if response.status < 500:
                    return
        if loop.time() > deadline:
            raise TimeoutError(f"{url} did not answer within {seconds:.0f} s")
        await asyncio.sleep(0.5)


async def onboard(session: aiohttp.ClientSession, base: str) -> str:
    """Create the owner, finish onboarding; an access token for the owner."""
    user = {"client_id": CLIENT_ID, "name": "Demo", "username": USER, "password": PASSWORD,
            "language": "en"}  # fmt: skip
    async with session.post(f"{base}/api/onboarding/users", json=user) as response:
        response.raise_for_status()
        code = (await response.json())["auth_code"]
    form = {"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID}
    async with session.post(f"{base}/auth/token", data=form) as response:
        response.raise_for_status()
        token = str((await response.json())["access_token"])
    headers = {"Authorization": f"Bearer {token}"}
    for step, body in (
        ("core_config", {}),
        ("analytics", {}),
        ("integration", {"client_id": CLIENT_ID, "redirect_uri": CLIENT_ID}),
    ):
        async with session.post(
            f"{base}/api/onboarding/{step}", json=body, headers=headers
        ) as response:
            response.raise_for_status()
    return token


async def add_integration(
    session: aiohttp.ClientSession, base: str, token: str, api_port: int
) -> dict[str, Any]:
    """The LwM2M config flow, as the UI drives it."""
    headers = {"Authorization": f"Bearer {token}"}
    flows = f"{base}/api/config/config_entries/flow"
    async with session.post(flows, json={"handler": "lwm2m"}, headers=headers) as response:
        response.raise_for_status()
        flow = await response.json()
    answer = {"host": "127.0.0.1", "port": api_port}
    async with session.post(f"{flows}/{flow['flow_id']}", json=answer, headers=headers) as response:
        response.raise_for_status()
        result: dict[str, Any] = await response.json()
    if result.get("type") != "create_entry":
        raise RuntimeError(f"the LwM2M config flow did not finish: {result}")
    return result


def prepare(config_dir: Path, port: int) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "configuration.yaml").write_text(CONFIGURATION.format(port=port))
    custom = config_dir / "custom_components"
    custom.mkdir(exist_ok=True)
    link = custom / "lwm2m"
    if not link.exists():
        link.symlink_to(ROOT / "custom_components" / "lwm2m", target_is_directory=True)


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def run(args: argparse.Namespace, workdir: Path) -> None:
    prepare(workdir / "ha", args.ha_port)
    log = (workdir / "processes.log").open("ab")
    gateway = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lwm2m_gateway.demo", "--api-port", str(args.api_port),
        "--coap-port", str(args.coap_port), "--coaps-port", str(args.coaps_port),
        "--data-dir", str(workdir / "gateway"), "--interval", str(args.interval),
        stdout=log, stderr=log,
    )  # fmt: skip
    hass = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "homeassistant", "--config", str(workdir / "ha"),
        "--skip-pip", stdout=log, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{args.ha_port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_http(session, f"http://127.0.0.1:{args.api_port}/ws", 60)
            await wait_http(session, f"{base}/api/onboarding", 180)
            token = await onboard(session, base)
            entry = await add_integration(session, base, token, args.api_port)
        ready = {"url": base, "username": USER, "password": PASSWORD, "token": token,
                 "api_port": args.api_port, "entry_id": entry["result"]["entry_id"],
                 "workdir": str(workdir)}  # fmt: skip
        print(f"\nHome Assistant: {base}   login: {USER} / {PASSWORD}")
        print("The LwM2M devices are under Settings -> Devices & services -> LwM2M. Ctrl-C stops.")
        print(f"Logs: {workdir / 'processes.log'}")
        print("READY " + json.dumps(ready), flush=True)
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        watchers = [asyncio.create_task(p.wait()) for p in (gateway, hass)]
        waiting = asyncio.create_task(done.wait())
        await asyncio.wait([*watchers, waiting], return_when=asyncio.FIRST_COMPLETED)
        for task in (*watchers, waiting):
            task.cancel()
    finally:
        await stop(hass)
        await stop(gateway)
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ha-port", type=int, default=8123)
    parser.add_argument("--api-port", type=int, default=8765)
    parser.add_argument("--coap-port", type=int, default=5683)
    parser.add_argument("--coaps-port", type=int, default=5684)
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between changes")
    parser.add_argument("--workdir", type=Path, help="keep the configuration and data here")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lwm2m-ha-demo-"))
    try:
        asyncio.run(run(args, workdir))
    except (RuntimeError, TimeoutError, aiohttp.ClientError) as err:
        print(f"demo: {err} (logs kept: {workdir / 'processes.log'})", file=sys.stderr)
        return 1
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
