"""The notification path in-process: what one notification costs the gateway from datagram to
API outbox, without sockets, scheduling or other processes; prints figures, asserts nothing.

    .venv/bin/python bench/bench_chain.py --notifications 10000 --rounds 5 --devices 1000

The real gateway (its app: store, roles, API with one listening client) runs in this process
with load-generator devices (bench/loadgen.py) that register and are observed. The benchmark
then hands N notification datagrams (SenML JSON, one value each), round-robin over the
devices, straight to the CoAP interface, as its socket reader would, and times that: the
synchronous work per notification, which on a busy machine sets the ceiling. With one device
everything stays in the CPU's caches; many devices show the cost of reaching each one's state.
`--burst` hands them over a few at a time with 10 ms of sleep between. Then the same datagrams
go to follows that do nothing: aiocoap's decode and dispatch, the part of it that is not ours.
bench_gateway.py measures the whole process under real traffic; this one is steady enough
within an hour to compare one change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path as FilePath
from typing import Any

import aiocoap
import aiohttp
from aiocoap.numbers.codes import Code
from aiocoap.numbers.types import Type

sys.path.insert(0, str(FilePath(__file__).parent.parent / "gateway"))
from lwm2m_gateway.app import Gateway
from lwm2m_gateway.coap_tokens import Follow, FollowingTokens
from lwm2m_gateway.config import load_config
from lwm2m_gateway.lwm2m.paths import Path

sys.path.insert(0, str(FilePath(__file__).parent))
from loadgen import close_all, open_devices, register_all


def notifications(follows: list[Follow], count: int, first: int) -> list[tuple[bytes, Any]]:
    """`count` notifications round-robin over the follows (Observe from `first` upwards)."""
    datagrams = []
    for n in range(count):
        follow = follows[n % len(follows)]
        sequence = first + n // len(follows)
        message = aiocoap.Message(code=Code.CONTENT, payload=json.dumps(
            [{"bn": "/3303/0/", "n": "5700", "v": 20.0 + n % 100 / 10}]).encode())  # fmt: skip
        message.mtype, message.mid, message.token = Type.NON, (first + n) & 0xFFFF, follow.token
        message.opt.observe, message.opt.content_format = sequence % 2**24, 110
        datagrams.append((message.encode(), follow.remote.sockaddr))
    return datagrams


def timed(interface: Any, datagrams: list[tuple[bytes, Any]], burst: int) -> tuple[float, float]:
    """µs of wall and CPU time per datagram handed to the interface; with a burst, that many
    at a time with 10 ms of sleep between (the load generator's pace at 100 * burst/s), so
    the caches cool as in a real process at that rate."""
    wall = cpu = 0.0
    step = burst or len(datagrams)
    for start in range(0, len(datagrams), step):
        wall_started, cpu_started = time.perf_counter(), time.process_time()
        for datagram, sockaddr in datagrams[start : start + step]:
            interface.datagram_msg_received(datagram, [], 0, sockaddr)
        wall += time.perf_counter() - wall_started
        cpu += time.process_time() - cpu_started
        if burst:
            time.sleep(0.01)
    count = len(datagrams)
    return 1e6 * wall / count, 1e6 * cpu / count


async def bench(count: int, rounds: int, devices: int, burst: int) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        config = load_config(None, {
            "coap_port": 0, "coaps_port": 0, "api_port": 0, "data_dir": data_dir,
            "unknown_endpoints": "accept", "log_level": "WARNING", "inventory_rate": 100000.0,
            "register_rate": 0, "max_endpoints": 100000,
        })  # fmt: skip
        gateway = Gateway(config)
        await gateway.start()
        server = ("127.0.0.1", gateway.server.coap_port)
        simulated = await open_devices(devices, server, "chain-")
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(gateway.api.url) as ws,
            ):
                await ws.receive_json()
                await ws.send_json({"message_id": 1, "command": "start_listening",
                                    "args": {"coalesce": True}})  # fmt: skip
                reader = asyncio.create_task(_drain(ws))
                if await register_all(simulated, 100):
                    raise RuntimeError("some devices did not register")
                await asyncio.sleep(0.5)  # their inventories run (unpaced here)
                for device in simulated:
                    await gateway.server.observations.observe(device.endpoint,
                                                              [Path(3303, 0, 5700)])  # fmt: skip
                context = gateway.server.transport._plain
                assert context is not None
                (tokens,) = context.request_interfaces
                assert isinstance(tokens, FollowingTokens)
                follows = tokens.follows()
                assert len(follows) == devices, len(follows)
                interface = tokens.token_interface.message_interface
                whole, sent = [], 10
                for _ in range(rounds):
                    datagrams = notifications(follows, count, sent)
                    sent += count // devices + 1
                    whole.append(timed(interface, datagrams, burst))
                    await asyncio.sleep(0.5)  # the API client reads what was queued
                # aiocoap's part: the same datagrams, to follows that do nothing
                idle = []
                for follow in follows:
                    follow.cancel()
                    nothing = Follow(tokens, _first(follow.token, follow.remote),
                                     lambda m: None, lambda e: None)  # fmt: skip
                    tokens._follows.setdefault(nothing.remote, {})[nothing.token] = nothing
                    idle.append(nothing)
                aiocoap_part = [
                    timed(interface, notifications(idle, count, 10 + n * (count // devices + 1)),
                          burst)
                    for n in range(rounds)
                ]  # fmt: skip
                reader.cancel()
        finally:
            close_all(simulated)
            await gateway.stop()
    wall = statistics.median(w for w, _ in whole)
    cpu = statistics.median(c for _, c in whole)
    pace = f"bursts of {burst} every 10 ms" if burst else "all at once"
    print(f"{count} notifications from {devices} devices, {pace}, {rounds} rounds, median")
    print(f"  datagram to API outbox, µs per notification   {wall:8.2f} wall {cpu:8.2f} CPU")
    part = statistics.median(c for _, c in aiocoap_part)
    print(f"  of which aiocoap's decode and dispatch         {part:8.2f} CPU")
    print(f"  the gateway's own part                         {cpu - part:8.2f} CPU")


async def _drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    async for _ in ws:
        pass


def _first(token: bytes, remote: Any) -> aiocoap.Message:
    """The first answer an idle follow starts from (Observe 1)."""
    message = aiocoap.Message(code=Code.CONTENT)
    message.token, message.remote, message.opt.observe = token, remote, 1
    return message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--devices", type=int, default=1, help="notifying round-robin")
    parser.add_argument("--burst", type=int, default=0,
                        help="this many at a time, 10 ms apart (0: all at once)")  # fmt: skip
    args = parser.parse_args()
    asyncio.run(bench(args.notifications, args.rounds, args.devices, args.burst))


if __name__ == "__main__":
    main()
