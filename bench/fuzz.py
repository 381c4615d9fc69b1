"""Throw N malformed datagrams and WebSocket frames at the real gateway process; print figures.

    .venv/bin/python bench/fuzz.py --datagrams 20000 --frames 2000

Prints: whether the gateway survived, tracebacks and ERROR lines it wrote, CoAP responses by code,
its RSS before and after, and whether an observed device still delivers notifications. All on
127.0.0.1; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "gateway"))
from bench_gateway import LOGS, rss_kib, start_gateway_process

from lwm2m_gateway.lwm2m.paths import Path as Lwm2mPath
from lwm2m_gateway.simulator import SimulatedDevice

OPTIONS = (3, 7, 11, 12, 15, 17, 23, 27, 28, 60)


def datagram(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.2:
        return rng.randbytes(rng.randrange(0, 80))
    token = rng.randbytes(rng.randrange(0, 9))
    code = rng.choice([1, 2, 3, 4, 5, 7, rng.randrange(256)])
    head = bytes([0x40 | len(token), code]) + rng.randbytes(2) + token
    body, previous = b"", 0
    for number in sorted(rng.sample(OPTIONS, rng.randrange(0, 4))):
        value = rng.choice([b"rd", b"dp", b"bs", b"fw", b"ep=fuzz", b"\xff\xfe", rng.randbytes(5)])
        if number - previous > 12:
            break
        body += bytes([((number - previous) << 4) | len(value)]) + value
        previous = number
    if kind > 0.6:
        body += b"\xff" + rng.randbytes(rng.randrange(1, 200))
    return head + body


def frame(rng: random.Random) -> str:
    choices: list[Callable[[], str]] = [
        lambda: rng.randbytes(rng.randrange(1, 50)).decode("latin-1"),
        lambda: "[" * rng.randrange(1000, 200000),
        lambda: '{"message_id": 1, "command": "read", "args": {"x": NaN}}',
        lambda: json.dumps({"message_id": {"a": 1}, "command": "read"}),
        lambda: json.dumps({"message_id": 2, "command": "write", "args": {"endpoint": "x" * 1000}}),
        lambda: json.dumps({"message_id": 3, "command": rng.choice(["read", "fly", ""]),
                            "args": rng.choice([[], "x", None, {"endpoint": 5}])}),
    ]  # fmt: skip
    return rng.choice(choices)()


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as data_dir:
        proc, coap_port, _, api_url = await start_gateway_process(data_dir, capture=True)
        device = SimulatedDevice("watched", f"coap://127.0.0.1:{coap_port}", auto_update=False)
        await device.start()
        delivered: list[float] = []
        async with aiohttp.ClientSession() as session, session.ws_connect(api_url) as ws:
            await ws.receive_json()
            await ws.send_json({"message_id": "l", "command": "start_listening", "args": {}})
            await asyncio.sleep(1.0)  # the gateway reads the device after it registers
            await ws.send_json({"message_id": "o", "command": "observe",
                                "args": {"endpoint": "watched", "path": "/3303/0/5700"}})  # fmt: skip

            async def listen() -> None:
                async for message in ws:
                    data = json.loads(message.data)
                    if data.get("event") == "resource_changed" and data["data"]["value"] == 99.5:
                        delivered.append(time.time())

            listener = asyncio.create_task(listen())
            await asyncio.sleep(0.5)
            rss_before = rss_kib(proc.pid)
            codes: collections.Counter[str] = collections.Counter()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
                raw.settimeout(0)
                started = time.perf_counter()
                for n in range(args.datagrams):
                    raw.sendto(datagram(rng), ("127.0.0.1", coap_port))
                    if n % 50 == 0:
                        await asyncio.sleep(0.002)  # paced: a flood the kernel drops tests less
                    while True:
                        try:
                            answer = raw.recv(2048)
                        except BlockingIOError:
                            break
                        code = answer[1] if len(answer) > 1 else -1
                        codes[f"{code >> 5}.{code & 31:02d}" if code >= 0 else "short"] += 1
                sent_s = time.perf_counter() - started
            async with session.ws_connect(api_url, max_msg_size=0) as abuser:
                await abuser.receive_json()
                for _ in range(args.frames):
                    await abuser.send_str(frame(rng))
                await asyncio.sleep(1.0)
                frames_answered = 0
                while True:
                    try:
                        await asyncio.wait_for(abuser.receive(), 0.5)
                        frames_answered += 1
                    except TimeoutError:
                        break
            await asyncio.sleep(1.0)
            rss_after = rss_kib(proc.pid)
            changed_at = time.time()
            device.set_value(Lwm2mPath(3303, 0, 5700), 99.5)
            for _ in range(300):  # the gateway may still be working through the flood
                if delivered:
                    break
                await asyncio.sleep(0.1)
            listener.cancel()
        await device.stop()
        alive = proc.returncode is None
        proc.terminate()
        await proc.wait()
        await asyncio.sleep(0.2)
        log = "".join(LOGS.get(proc.pid, []))
        if args.show_log:
            print(log[-3000:])
    print(f"datagrams sent: {args.datagrams} in {sent_s:.1f} s; frames sent: {args.frames}")
    print(f"gateway alive afterwards: {alive}")
    print(f"tracebacks in its log: {log.count('Traceback')}; ERROR lines: {log.count(' ERROR ')}")
    print(f"log size: {len(log)} bytes")
    print("CoAP responses by code:", dict(sorted(codes.items())))
    print(f"WebSocket answers to the abusive frames: {frames_answered}")
    print(f"gateway RSS before/after: {rss_before / 1024:.1f} / {rss_after / 1024:.1f} MiB")
    if delivered:
        print(f"observed device still delivers: yes, {delivered[0] - changed_at:.1f} s after")
    else:
        print("observed device still delivers: NO (nothing within 30 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datagrams", type=int, default=20000)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show-log", action="store_true", help="print the end of its log")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
