"""A light LwM2M load generator: thousands of minimal devices on raw asyncio UDP sockets.

The full simulator gives every device its own aiocoap context, which is right for behaviour but too
heavy for 10,000 devices on two cores. These devices speak just what a benchmark needs: Register,
Discover and Read of one temperature resource, Observe, and NON notifications carrying their send
time as the value, so the receiver can measure notify-to-API latency. Messages are built and parsed
with aiocoap's own Message codec, so the bytes on the wire are real CoAP.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import os
import random
import time
from dataclasses import dataclass, field

from aiocoap import CON, NON, Message
from aiocoap.numbers.codes import Code
from aiocoap.numbers.types import Type

SENML_JSON = 110
LINK_FORMAT = 40
RESOURCE = ("3303", "0", "5700")


TEMPERATURE = ("3303", "0", "5700")
RICH_VALUES: dict[tuple[str, ...], object] = {
    ("3", "0", "0"): "bench",
    ("3", "0", "9"): 90,
    TEMPERATURE: 21.5,
    ("3304", "0", "5700"): 40.0,
    ("3312", "0", "5850"): False,
}


def senml_value(value: float) -> bytes:
    return json.dumps([{"bn": "/3303/0/", "n": "5700", "v": value}]).encode()


def senml_values(values: dict[tuple[str, ...], object]) -> bytes:
    records: list[dict[str, object]] = []
    for path, value in values.items():
        key = "vb" if isinstance(value, bool) else "vs" if isinstance(value, str) else "v"
        records.append({"n": "/" + "/".join(path), key: value})
    return json.dumps(records).encode()


def random_mids() -> itertools.count[int]:
    return itertools.count(random.randrange(1 << 16))


@dataclass
class BenchDevice(asyncio.DatagramProtocol):
    """One device: a socket, a registration, and the observations the server holds on it."""

    endpoint: str
    server: tuple[str, int]
    lifetime: int = 3600
    rich: bool = False  # several objects (for the HA benchmark) instead of one temperature
    transport: asyncio.DatagramTransport | None = None
    observations: dict[bytes, int] = field(default_factory=dict)  # token -> next Observe sequence
    pending: dict[int, asyncio.Future[Message]] = field(default_factory=dict)
    mids: itertools.count[int] = field(default_factory=random_mids)
    registered: bool = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            message = Message.decode(data)
        except Exception:
            return
        if message.mtype in (Type.ACK, Type.RST):
            future = self.pending.pop(message.mid, None)
            if future is not None and not future.done():
                future.set_result(message)
            return
        if message.code.is_request():
            self._answer(message)

    def _answer(self, request: Message) -> None:
        if self.rich:
            self._answer_rich(request)
            return
        path = tuple(request.opt.uri_path)
        code, payload, fmt = Code.NOT_FOUND, b"", None
        observe: int | None = None
        if request.code == Code.GET and request.opt.accept == LINK_FORMAT:
            code, fmt = Code.CONTENT, LINK_FORMAT
            payload = b"</3303>,</3303/0>,</3303/0/5700>"
        elif request.code in (Code.GET, Code.FETCH) and RESOURCE[: len(path)] == path and path:
            if request.opt.accept not in (None, SENML_JSON):
                code = Code.NOT_ACCEPTABLE
            else:
                # a plain Read (the inventory's) is not a timestamp, so it is not counted
                code, fmt, payload = Code.CONTENT, SENML_JSON, senml_value(21.5)
                if request.opt.observe == 0:
                    payload = senml_value(time.time())
                    self.observations[request.token] = 1
                    observe = 0
                elif request.opt.observe == 1:
                    self.observations.pop(request.token, None)
        mtype = Type.ACK if request.mtype == CON else NON
        response = Message(mtype=mtype, code=code, payload=payload, token=request.token)
        response.mid = request.mid if mtype == Type.ACK else next(self.mids) & 0xFFFF
        if fmt is not None:
            response.opt.content_format = fmt
        if observe is not None:
            response.opt.observe = observe
        self._send(response)

    def _answer_rich(self, request: Message) -> None:
        path = tuple(request.opt.uri_path)
        values = {p: v for p, v in RICH_VALUES.items() if p[: len(path)] == path}
        if request.opt.accept not in (None, SENML_JSON, LINK_FORMAT) or not values:
            code = Code.NOT_ACCEPTABLE if values else Code.NOT_FOUND
            self._reply(request, Message(code=code))
            return
        if request.opt.accept == LINK_FORMAT:
            links = sorted({"/".join(p[:n]) for p in values for n in (2, 3) if len(path) <= n})
            payload = ",".join(f"</{link}>" for link in links).encode()
            self._reply(request, Message(code=Code.CONTENT, payload=payload, content_format=40))
            return
        if TEMPERATURE in values and request.opt.observe == 0:
            values[TEMPERATURE] = time.time()  # an observe's first value: a send time
        response = Message(code=Code.CONTENT, payload=senml_values(values), content_format=110)
        if request.opt.observe == 0 and TEMPERATURE in values:
            self.observations[request.token] = 1
            response.opt.observe = 0
        self._reply(request, response)

    def _reply(self, request: Message, response: Message) -> None:
        response.token = request.token
        response.mtype = Type.ACK if request.mtype == CON else NON
        response.mid = request.mid if response.mtype == Type.ACK else next(self.mids) & 0xFFFF
        self._send(response)

    def _send(self, message: Message) -> None:
        if self.transport is not None:
            self.transport.sendto(message.encode(), self.server)

    async def _request(self, message: Message, attempts: int = 4) -> Message:
        """Send a CON request with CoAP's exponential retransmission (RFC 7252 §4.2)."""
        message.mtype = CON
        message.mid = next(self.mids) & 0xFFFF
        message.token = os.urandom(4)
        timeout = 2.0
        for _ in range(attempts):
            future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
            self.pending[message.mid] = future
            self._send(message)
            try:
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                timeout *= 2
        raise TimeoutError(f"{self.endpoint}: no answer to {message.code}")

    async def register(self) -> None:
        links = b",</3/0>,</3303/0>,</3304/0>,</3312/0>" if self.rich else b",</3303/0>"
        request = Message(code=Code.POST, payload=b'</>;rt="oma.lwm2m";ct=110' + links)
        request.opt.uri_path = ("rd",)
        request.opt.uri_query = (f"ep={self.endpoint}", f"lt={self.lifetime}", "lwm2m=1.1", "b=U")
        request.opt.content_format = LINK_FORMAT
        response = await self._request(request)
        if response.code != Code.CREATED:
            raise RuntimeError(f"{self.endpoint}: register answered {response.code}")
        self.registered = True

    def notify(self) -> int:
        """Send a NON notification per observation, valued with its send time; returns how many."""
        for token, sequence in self.observations.items():
            message = Message(
                mtype=NON, code=Code.CONTENT, token=token, payload=senml_value(time.time())
            )
            message.mid = next(self.mids) & 0xFFFF
            message.opt.observe = sequence & 0xFFFFFF
            message.opt.content_format = SENML_JSON
            self.observations[token] = sequence + 1
            self._send(message)
        return len(self.observations)


def identity(device: BenchDevice) -> BenchDevice:
    return device


async def open_devices(
    count: int, server: tuple[str, int], prefix: str, start: int = 0, *, rich: bool = False
) -> list[BenchDevice]:
    loop = asyncio.get_running_loop()
    devices = []
    for index in range(start, start + count):
        device = BenchDevice(f"{prefix}{index:05d}", server, rich=rich)
        await loop.create_datagram_endpoint(
            functools.partial(identity, device), local_addr=("127.0.0.1", 0)
        )
        devices.append(device)
    return devices


async def register_all(devices: list[BenchDevice], concurrency: int) -> int:
    """Register every device, at most `concurrency` at a time; returns how many failed."""
    semaphore = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(device: BenchDevice) -> None:
        nonlocal failures
        async with semaphore:
            try:
                await device.register()
            except (TimeoutError, RuntimeError):
                failures += 1

    await asyncio.gather(*(one(device) for device in devices))
    return failures


async def notify_at_rate(devices: list[BenchDevice], rate: float, duration: float) -> int:
    """Notify round-robin at `rate` per second for `duration` seconds; returns how many."""
    observed = [device for device in devices if device.observations]
    if not observed:
        return 0
    sent, tick = 0, 0.01
    per_tick = rate * tick
    carry = 0.0
    cycle = itertools.cycle(observed)
    deadline = time.monotonic() + duration
    next_tick = time.monotonic()
    while time.monotonic() < deadline:
        carry += per_tick
        while carry >= 1:
            sent += next(cycle).notify()
            carry -= 1
        next_tick += tick
        await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
    return sent


def close_all(devices: list[BenchDevice]) -> None:
    for device in devices:
        if device.transport is not None:
            device.transport.close()
