"""The WebSocket endpoint: auth, one task per command, events fanned out to listening clients."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import json.encoder
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from .. import __version__
from ..lwm2m.errors import Lwm2mError
from ..server import Lwm2mServer, ServerEvent
from .commands import CommandContext, run_command
from .messages import (
    ApiError,
    ErrorResultMessage,
    ServerInfoMessage,
    SuccessResultMessage,
    event_json,
)

_LOGGER = logging.getLogger(__name__)
SEND_QUEUE = 20000  # frames a slow client may lag behind before it is disconnected
SEND_BUDGET = 16 * 1024 * 1024  # bytes queued for one client before it is disconnected
MAX_CONNECTIONS = 32  # API clients at once (HA needs one per config entry)
MAX_DEPTH = 32  # nesting of a command's JSON; deeper is invalid_message, not a RecursionError


def _frame_encoder() -> Callable[[Any], str]:
    """One encoder for every frame. json.dumps with an argument (default=) builds a new encoder
    per call (a tenth of the CPU of a notification), and JSONEncoder.encode still builds its C
    encoder per call (a third of what is left): this one is built once."""
    encoder = json.JSONEncoder(default=str)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return encoder.encode
    # the arguments JSONEncoder.iterencode gives it for these settings, but no circular check:
    # frames are trees we build (a cycle would still end in RecursionError, not a crash)
    encode = make(None, str, json.encoder.encode_basestring_ascii, None, ": ", ", ", False,
                  False, True)  # fmt: skip
    return lambda message: "".join(encode(message, 0))


_encode_frame = _frame_encoder()


class Connection:
    """One client: a bounded outbox drained by a writer task, so a slow client never blocks us."""

    def __init__(self, ws: web.WebSocketResponse, peer: str) -> None:
        self.ws = ws
        self.peer = peer
        self.listening = False
        self.coalesce = False  # frames queued together leave as one JSON array (schema 5)
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue(SEND_QUEUE)
        self.tasks: set[asyncio.Task[None]] = set()
        self.queued = 0  # bytes in the outbox
        self.dropped = False

    def send(self, message: dict[str, Any]) -> None:
        if self.dropped:
            return
        frame = _encode_frame(message)
        if self.queued + len(frame) > SEND_BUDGET or self.outbox.full():
            _LOGGER.warning("Disconnecting %s: it does not read (%d bytes behind)", self.peer,
                            self.queued)  # fmt: skip
            self.dropped, self.listening = True, False
            while not self.outbox.empty():  # what it would never read is freed now
                self.outbox.get_nowait()
            self.queued = 0
            self.tasks.add(asyncio.ensure_future(self._close_slow()))
            return
        self.queued += len(frame)
        self.outbox.put_nowait(frame)

    async def _close_slow(self) -> None:
        await self.ws.close(message=b"too slow")

    async def write_loop(self) -> None:
        """Send what is queued; a client that asked to coalesce gets everything queued at that
        moment in one frame (one socket write per event was a tenth of the CPU of a notification
        flood). Nothing waits to be coalesced: a lone message leaves at once, as it is."""
        while (frame := await self.outbox.get()) is not None:
            if self.coalesce and not self.outbox.empty():
                frames, ending = [frame], False
                while not self.outbox.empty():
                    more = self.outbox.get_nowait()
                    if more is None:  # the connection ends after these
                        ending = True
                        break
                    frames.append(more)
                self.queued -= sum(map(len, frames))
                frame = "[" + ",".join(frames) + "]"
                if ending:
                    self.outbox.put_nowait(None)
            else:
                self.queued -= len(frame)
            if self.ws.closed:
                return
            await self.ws.send_str(frame)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any, limit: int) -> bool:
    """Whether value nests deeper than limit (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return False


def _valid_id(message_id: Any) -> bool:
    return message_id is None or (
        isinstance(message_id, str | int) and not isinstance(message_id, bool)
    )


def _parse(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """A command frame, or why it is not one (invalid_message)."""
    if text.count("[") + text.count("{") > 10000 or len(text) > 4 * 1024 * 1024:
        return None, "the frame is too large or nests too deep"
    try:
        message = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as err:
        return None, f"not JSON: {str(err)[:100]}"
    if not isinstance(message, dict) or not isinstance(message.get("command"), str):
        return message if isinstance(message, dict) else None, (
            "expected a JSON object with message_id, command and args"
        )
    if not _valid_id(message.get("message_id")):
        return None, "message_id: expected a string or an integer"
    if _depth(message, MAX_DEPTH):
        return message, f"args nest deeper than {MAX_DEPTH} levels"
    return message, None


class ApiServer:
    def __init__(
        self,
        server: Lwm2mServer,
        gateway_id: str,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        token: str | None = None,
    ) -> None:
        self.server = server
        self.gateway_id = gateway_id
        self.host = host
        self.port = port
        self.token = token
        self.connections: set[Connection] = set()
        self._runner: web.AppRunner | None = None
        self._unsubscribe = server.events.subscribe(self._on_event)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._unsubscribe()
        for connection in list(self.connections):
            await connection.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    def _on_event(self, event: ServerEvent) -> None:
        data = event.data
        firmware = self.server.firmware
        if event.name in ("endpoint_registered", "endpoint_updated") and firmware is not None:
            data = {**data, "firmware": firmware.endpoint_json(event.endpoint)}
        message = event_json(event.name, data)
        for connection in list(self.connections):
            if connection.listening:
                connection.send(message)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if len(self.connections) >= MAX_CONNECTIONS:
            _LOGGER.warning("Refused an API client from %s: %d connected", request.remote,
                            MAX_CONNECTIONS)  # fmt: skip
            raise web.HTTPServiceUnavailable(text=f"at most {MAX_CONNECTIONS} API clients")
        if self.token is not None:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                _LOGGER.warning("Refused an API client from %s: bad token", request.remote)
                raise web.HTTPUnauthorized(text="a valid Authorization: Bearer token is required")
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4 * 1024 * 1024, compress=False)
        await ws.prepare(request)
        connection = Connection(ws, str(request.remote))
        self.connections.add(connection)
        writer = asyncio.create_task(connection.write_loop())
        connection.send(
            ServerInfoMessage(__version__, self.gateway_id, self.server.device_uris()).to_json()
        )
        context = CommandContext(self.server, lambda coalesce: None)

        def start_listening(coalesce: bool) -> None:
            connection.listening = True
            connection.coalesce = coalesce

        context.start_listening = start_listening
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    self._dispatch(connection, context, frame.data)
                elif frame.type == WSMsgType.BINARY:
                    connection.send(
                        ErrorResultMessage(
                            None, "invalid_message", {"message": "frames must be JSON text"}
                        ).to_json()
                    )
        finally:
            self.connections.discard(connection)
            for task in connection.tasks:
                task.cancel()
            with contextlib.suppress(asyncio.QueueFull):
                connection.outbox.put_nowait(None)
            writer.cancel()
        return ws

    def _dispatch(self, connection: Connection, context: CommandContext, text: str) -> None:
        message, problem = _parse(text)
        if problem is not None:
            message_id = message.get("message_id") if isinstance(message, dict) else None
            if not _valid_id(message_id):
                message_id = None
            connection.send(
                ErrorResultMessage(message_id, "invalid_message", {"message": problem}).to_json()
            )
            return
        assert message is not None
        task = asyncio.ensure_future(self._run(connection, context, message))
        connection.tasks.add(task)
        task.add_done_callback(connection.tasks.discard)

    async def _run(
        self, connection: Connection, context: CommandContext, message: dict[str, Any]
    ) -> None:
        message_id = message.get("message_id")
        try:
            result = await run_command(context, message["command"], message.get("args", {}))
        except ApiError as err:
            reply = ErrorResultMessage(message_id, err.error_code, err.details).to_json()
        except Lwm2mError as err:
            reply = ErrorResultMessage(message_id, err.error_code, err.details()).to_json()
        except Exception as err:
            _LOGGER.exception("Command %s failed", message.get("command"))
            reply = ErrorResultMessage(
                message_id, "internal_error", {"message": f"{type(err).__name__}: {err}"}
            ).to_json()
        else:
            reply = SuccessResultMessage(message_id, result).to_json()
        connection.send(reply)
