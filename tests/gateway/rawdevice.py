"""A scripted LwM2M device on a raw UDP socket, for checking the gateway's requests on the wire.

It shares no code with the gateway beyond aiocoap's CoAP framing: payloads are bytes the test
writes by hand, and every datagram the gateway sends is kept, options and payload as received.
Responses are piggybacked on the ACK of each confirmable request (RFC 7252 §5.2.1); Block1
uploads are acknowledged block by block and Block2 downloads served in the size asked for.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass

import aiocoap
from aiocoap.numbers.codes import Code
from aiocoap.numbers.types import Type
from aiocoap.optiontypes import BlockOption

Reply = tuple[Code, int | None, bytes]  # code, content format, payload
Script = Callable[[aiocoap.Message], Reply | None]  # None: an empty ACK, and never an answer


@dataclass(slots=True)
class Received:
    message: aiocoap.Message

    @property
    def path(self) -> str:
        return "/" + "/".join(self.message.opt.uri_path)


class RawDevice(asyncio.DatagramProtocol):
    def __init__(self, script: Script) -> None:
        self.script = script
        self.received: list[Received] = []
        self.observable = True  # False: Observes are answered as plain reads (RFC 7641 §3.1)
        self.transport: asyncio.DatagramTransport | None = None
        self._answers: dict[int, asyncio.Future[aiocoap.Message]] = {}
        self._mids = itertools.count(random.randrange(0x1000, 0xE000))  # as a rebooted device
        self._arrived = asyncio.Event()
        self._uploads: dict[bytes, bytearray] = {}
        self._taken = 0

    @classmethod
    async def start(cls, script: Script, port: int = 0) -> RawDevice:
        device = cls(script)
        await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: device, local_addr=("127.0.0.1", port)
        )
        return device

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # --- the device as a client: Register, Update --------------------------------------------------

    async def request(
        self,
        port: int,
        code: Code,
        path: str,
        query: list[str],
        payload: bytes = b"",
        *,
        mid: int | None = None,
    ) -> aiocoap.Message:
        """A confirmable request and its answer (mid: this message id, e.g. to repeat one)."""
        message = aiocoap.Message(code=code, payload=payload)
        message.mtype, message.token = Type.CON, b"\x01\x02"
        message.mid = next(self._mids) if mid is None else mid
        message.opt.uri_path = tuple(p for p in path.split("/") if p)
        message.opt.uri_query = tuple(query)
        if payload:
            message.opt.content_format = 40
        answer = self._answers[message.mid] = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.sendto(message.encode(), ("127.0.0.1", port))
        return await asyncio.wait_for(answer, 5)

    # --- the device as a server: what the gateway asks -------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        message = aiocoap.Message.decode(data)
        if message.mtype in (Type.ACK, Type.RST) and message.mid in self._answers:
            self._answers.pop(message.mid).set_result(message)
            return
        if not message.code.is_request():
            return
        self.received.append(Received(message))
        self._arrived.set()
        reply = self._reply(message)
        if reply is None:  # acknowledged, "the answer follows" (RFC 7252 §5.2.2), and it never does
            empty = aiocoap.Message(code=Code.EMPTY)
            empty.mtype, empty.mid, empty.token = Type.ACK, message.mid, b""
            assert self.transport is not None
            self.transport.sendto(empty.encode(), addr)
            return
        code, fmt, payload = reply
        response = aiocoap.Message(code=code, payload=payload)
        response.mtype = Type.ACK if message.mtype == Type.CON else Type.NON
        response.mid, response.token = message.mid, message.token
        if fmt is not None:
            response.opt.content_format = fmt
        if message.opt.observe == 0 and code.is_successful() and self.observable:
            response.opt.observe = 1  # accepted: later notifications count up from here
        if message.opt.block1 is not None:
            response.opt.block1 = message.opt.block1
        if message.opt.block2 is not None or len(response.payload) > 1024:
            block = message.opt.block2 or BlockOption.BlockwiseTuple(0, False, 6)
            start, size = block.block_number * block.size, block.size
            more = start + size < len(payload)
            response.payload = payload[start : start + size]
            response.opt.block2 = BlockOption.BlockwiseTuple(
                block.block_number, more, block.size_exponent
            )
        assert self.transport is not None
        self.transport.sendto(response.encode(), addr)

    def _reply(self, message: aiocoap.Message) -> Reply | None:
        block1 = message.opt.block1
        if block1 is None:
            return self.script(message)
        upload = self._uploads.setdefault(bytes(message.token), bytearray())
        upload += message.payload
        if block1.more:
            return Code.CONTINUE, None, b""
        whole = aiocoap.Message(code=message.code, payload=bytes(upload))
        whole.opt = message.opt
        del self._uploads[bytes(message.token)]
        return self.script(whole)

    async def next_request(self, wait_s: float = 5.0) -> Received:
        """The next request the gateway sends (after those already taken)."""
        while len(self.received) <= self._taken:
            self._arrived.clear()
            await asyncio.wait_for(self._arrived.wait(), wait_s)
        self._taken += 1
        return self.received[self._taken - 1]

    def notify(
        self,
        port: int,
        request: aiocoap.Message,
        sequence: int,
        fmt: int,
        payload: bytes,
        *,
        mid: int | None = None,
    ) -> asyncio.Future[aiocoap.Message] | None:
        """Send a notification on an observation the gateway made: non-confirmable, or
        confirmable with this message id (then the future gets the gateway's ACK or RST)."""
        message = aiocoap.Message(code=Code.CONTENT, payload=payload)
        message.mtype = Type.NON if mid is None else Type.CON
        message.mid, message.token = next(self._mids) if mid is None else mid, request.token
        message.opt.observe = sequence
        message.opt.content_format = fmt
        answer = None
        if mid is not None:
            answer = self._answers[mid] = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.sendto(message.encode(), ("127.0.0.1", port))
        return answer
