"""The notification path in-process: what one notification costs the gateway from datagram to
API outbox, without sockets, scheduling or other processes; prints figures, asserts nothing.

    .venv/bin/python bench/bench_chain.py --notifications 10000 --rounds 3

The real gateway (its app: store, roles, API with one listening client) runs in this process
with one simulated device that registers and is observed. The benchmark then hands N
notification datagrams (SenML JSON, one value each) straight to the CoAP interface, as its
socket reader would, and times that: the synchronous work per notification, which on a busy
machine sets the ceiling. Then the same datagrams go to a follow that does nothing: aiocoap's
decode and dispatch, the part of it that is not ours. bench_gateway.py measures the whole
process under real traffic; this one is steady enough to compare one change.
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
from lwm2m_gateway.simulator.device import SimulatedDevice


def notifications(token: bytes, count: int, first: int) -> list[bytes]:
    datagrams = []
    for n in range(count):
        message = aiocoap.Message(code=Code.CONTENT, payload=json.dumps(
            [{"bn": "/3303/0/", "n": "5700", "v": 20.0 + n % 100 / 10}]).encode())  # fmt: skip
        message.mtype, message.mid, message.token = Type.NON, (first + n) & 0xFFFF, token
        message.opt.observe, message.opt.content_format = (first + n) % 2**24, 110
        datagrams.append(message.encode())
    return datagrams


def timed(interface: Any, datagrams: list[bytes], sockaddr: Any) -> tuple[float, float]:
    """µs of wall and CPU time per datagram handed to the interface."""
    wall, cpu = time.perf_counter(), time.process_time()
    for datagram in datagrams:
        interface.datagram_msg_received(datagram, [], 0, sockaddr)
    count = len(datagrams)
    return (1e6 * (time.perf_counter() - wall) / count,
            1e6 * (time.process_time() - cpu) / count)  # fmt: skip


async def bench(count: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        config = load_config(None, {
            "coap_port": 0, "coaps_port": 0, "api_port": 0, "data_dir": data_dir,
            "unknown_endpoints": "accept", "log_level": "WARNING",
        })  # fmt: skip
        gateway = Gateway(config)
        await gateway.start()
        device = SimulatedDevice("chain", f"coap://127.0.0.1:{gateway.server.coap_port}")
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(gateway.api.url) as ws,
            ):
                await ws.receive_json()
                await ws.send_json({"message_id": 1, "command": "start_listening",
                                    "args": {"coalesce": True}})  # fmt: skip
                await device.start()  # registered when it returns
                await gateway.server.observations.observe("chain", [Path(3303, 0, 5700)])
                context = gateway.server.transport._plain
                assert context is not None
                (tokens,) = context.request_interfaces
                assert isinstance(tokens, FollowingTokens)
                (follow,) = tokens.follows()
                interface = tokens.token_interface.message_interface
                sockaddr = follow.remote.sockaddr
                whole, sent = [], 10
                for _ in range(rounds):
                    datagrams = notifications(follow.token, count, sent)
                    sent += count
                    whole.append(timed(interface, datagrams, sockaddr))
                    await asyncio.sleep(0.5)  # the API client reads what was queued
                # aiocoap's part: the same datagrams, to a follow that does nothing
                follow.cancel()
                idle = Follow(tokens, _first(follow.token, follow.remote), lambda m: None,
                              lambda e: None)  # fmt: skip
                tokens._follows.setdefault(idle.remote, {})[idle.token] = idle
                aiocoap_part = [timed(interface, notifications(idle.token, count, 10 + n * count),
                                      sockaddr) for n in range(rounds)]  # fmt: skip
        finally:
            await device.stop()
            await gateway.stop()
    wall = statistics.median(w for w, _ in whole)
    cpu = statistics.median(c for _, c in whole)
    print(f"{count} notifications, {rounds} rounds, median of the rounds")
    print(f"  datagram to API outbox, µs per notification   {wall:8.2f} wall {cpu:8.2f} CPU")
    part = statistics.median(c for _, c in aiocoap_part)
    print(f"  of which aiocoap's decode and dispatch         {part:8.2f} CPU")
    print(f"  the gateway's own part                         {cpu - part:8.2f} CPU")


def _first(token: bytes, remote: Any) -> aiocoap.Message:
    """The first answer an idle follow starts from (Observe 1)."""
    message = aiocoap.Message(code=Code.CONTENT)
    message.token, message.remote, message.opt.observe = token, remote, 1
    return message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(bench(args.notifications, args.rounds))


if __name__ == "__main__":
    main()
