"""The main job: a gateway, three simulated devices (one in queue mode) and a live event view.

    python -m lwm2m_gateway.demo [--duration S] [--coap-port P] [--api-port Q] [--data-dir D]

Values drift every few seconds; each registration and value change is printed as the gateway's
WebSocket API reports it, which is exactly what Home Assistant sees.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging

import aiohttp

from .app import Gateway, quiet_coap_shutdown
from .config import load_config
from .lwm2m.codecs import ContentFormat
from .simulator import DeviceFleet


async def watch(url: str, ready: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        info = await ws.receive_json()
        print(f"connected to gateway {info['gateway_id']} (API schema {info['schema_version']})")
        await ws.send_json({"message_id": 1, "command": "start_listening", "args": {}})
        ready.set()
        async for frame in ws:
            message = json.loads(frame.data)
            if message["type"] == "result":
                continue
            data = message["data"]
            match message["event"]:
                case "resource_changed":
                    print(f"  {data['endpoint']:>8} {data['path']:<14} = {data['value']}")
                case "endpoint_registered":
                    objects = ", ".join(str(o["id"]) for o in data["objects"])
                    print(f"+ {data['endpoint']} registered (objects {objects})")
                case event:
                    print(f"* {data['endpoint']} {event.removeprefix('endpoint_')}")


async def observe_all(url: str, names: list[str]) -> None:
    """Ask the gateway to observe each device's sensors and actuators, as HA would."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.receive_json()
        message_id = 0
        for name in names:
            for path in ("/3303/0/5700", "/3304/0/5700", "/3347/0/5501"):
                message_id += 1
                await ws.send_json(
                    {"message_id": message_id, "command": "observe",
                     "args": {"endpoint": name, "path": path}}
                )  # fmt: skip
                await ws.receive_json()


async def run(args: argparse.Namespace) -> None:
    quiet_coap_shutdown(asyncio.get_running_loop())
    config = load_config(
        None,
        {"coap_port": args.coap_port, "coaps_port": args.coaps_port, "api_port": args.api_port,
         "data_dir": args.data_dir, "log_level": "WARNING"},
    )  # fmt: skip
    gateway = Gateway(config)
    await gateway.start()
    print(f"gateway: coap://127.0.0.1:{gateway.server.coap_port}  api: {gateway.api.url}")
    ready = asyncio.Event()
    watcher = asyncio.create_task(watch(gateway.api.url, ready))
    await ready.wait()
    uri = f"coap://127.0.0.1:{gateway.server.coap_port}"
    fleets = [
        DeviceFleet(uri, 2, prefix="demo-", content_format=ContentFormat.SENML_CBOR),
        DeviceFleet(uri, 1, prefix="sleepy-", binding="UQ", content_format=ContentFormat.TLV),
    ]
    for fleet in fleets:
        await fleet.start()
    await asyncio.sleep(1.0)
    await observe_all(gateway.api.url, [d.endpoint for f in fleets for d in f.devices])
    for fleet in fleets:
        fleet.animate(args.interval)
    try:
        await asyncio.sleep(args.duration) if args.duration else await asyncio.Event().wait()
    finally:
        for fleet in fleets:
            await fleet.stop()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await gateway.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=float, default=0, help="seconds to run (0: until Ctrl-C)"
    )
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between changes")
    parser.add_argument("--coap-port", type=int, default=5683)
    parser.add_argument("--coaps-port", type=int, default=5684)
    parser.add_argument("--api-port", type=int, default=8765)
    parser.add_argument("--data-dir", default="./data")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
