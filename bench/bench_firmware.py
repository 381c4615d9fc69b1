"""Firmware benchmark: time to move a 1 MB image to a device over loopback, pull and push.

    .venv/bin/python bench/bench_firmware.py [--size BYTES]

The gateway and one simulated device run in this process on 127.0.0.1; the time is from starting
the update to the device reporting success (download, install, result). A pull uses the
device's block size (aiocoap: 1024 bytes); a push uses the gateway's firmware_block_size.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from lwm2m_gateway.app import Gateway, quiet_coap_shutdown
from lwm2m_gateway.config import load_config
from lwm2m_gateway.server import ServerEvent
from lwm2m_gateway.simulator import SimulatedDevice

BLOCK_SIZE = 1024


async def one(method: str, size: int, block_size: int) -> tuple[float, str]:
    quiet_coap_shutdown(asyncio.get_running_loop())
    with tempfile.TemporaryDirectory() as data_dir:
        config = load_config(None, {"coap_port": 0, "coaps_port": 0, "api_port": 0, "data_dir": data_dir,
                                    "log_level": "WARNING", "request_timeout": 60,
                                    "firmware_block_size": block_size})  # fmt: skip
        gateway = Gateway(config)
        await gateway.start()
        done, registered = asyncio.Event(), asyncio.Event()
        outcome: dict[str, str] = {}

        def on_event(event: ServerEvent) -> None:
            if event.name == "endpoint_registered":
                registered.set()
            if event.name == "firmware_result":
                outcome["status"] = str(event.data["status"])
                done.set()

        gateway.server.events.subscribe(on_event)
        uri = f"coap://127.0.0.1:{gateway.server.coap_port}"
        device = SimulatedDevice("bench-fw", uri, auto_update=False)
        await device.start()
        await asyncio.wait_for(registered.wait(), 30)  # after the gateway read the device
        image = b"FW 2.0.0\n" + bytes(i % 251 for i in range(size - 9))
        gateway.firmware.catalogue.add(image, version="2.0.0", endpoints=["bench-fw"])
        started = time.perf_counter()
        await gateway.firmware.start("bench-fw", method=method)
        await asyncio.wait_for(done.wait(), 600)
        seconds = time.perf_counter() - started
        await device.stop()
        await gateway.stop()
    return seconds, outcome["status"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024 * 1024)
    args = parser.parse_args()
    print(f"== firmware: {args.size} bytes over loopback")
    for method, block_size in (("pull", BLOCK_SIZE), ("push", BLOCK_SIZE), ("push", 256)):
        seconds, status = asyncio.run(one(method, args.size, block_size))
        rate = args.size / seconds / 1024
        print(
            f"  {method:5} blocks of {block_size:5} B {seconds:8.2f} s {rate:8.1f} KiB/s  {status}"
        )


if __name__ == "__main__":
    main()
