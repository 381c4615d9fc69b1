"""The WebSocket client of the gateway API (docs/protocol.md), on aiohttp alone.

It lives in the integration so HACS installs nothing from PyPI. One reader task dispatches
results to waiting commands by message id and events to one callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from .const import COALESCE_SCHEMA_VERSION, MIN_SCHEMA_VERSION, SCHEMA_VERSION

_LOGGER = logging.getLogger(__name__)
COMMAND_TIMEOUT = 120.0  # a queue-mode device may take minutes to wake; the gateway bounds it


class GatewayError(Exception):
    """Base of every client error."""


class CannotConnect(GatewayError):
    """The gateway is not reachable or the connection broke."""


class InvalidAuth(GatewayError):
    """The gateway refused the token (HTTP 401)."""


class SchemaMismatch(GatewayError):
    """The gateway speaks a schema outside what this integration supports."""

    def __init__(self, gateway_schema: int, needs: str) -> None:
        super().__init__(f"gateway schema {gateway_schema}: upgrade the {needs}")
        self.gateway_schema = gateway_schema
        self.needs = needs  # "gateway" or "integration"


class CommandError(GatewayError):
    """The gateway answered a command with an error code."""

    def __init__(self, error_code: str, details: dict[str, Any]) -> None:
        super().__init__(f"{error_code}: {details.get('message', '')}")
        self.error_code = error_code
        self.details = details


EventCallback = Callable[[str, dict[str, Any]], None]


class GatewayClient:
    def __init__(
        self, session: aiohttp.ClientSession, host: str, port: int, token: str | None
    ) -> None:
        self._session = session
        self.host = host
        self.port = port
        self._token = token
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._on_event: EventCallback | None = None
        self.on_disconnect: Callable[[], None] | None = None
        self.server_info: dict[str, Any] | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    async def connect(self) -> None:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        try:
            self._ws = await self._session.ws_connect(
                self.url,
                headers=headers,
                heartbeat=30,
                timeout=aiohttp.ClientWSTimeout(ws_close=10),
            )
            info = await self._ws.receive_json(timeout=10)
        except aiohttp.WSServerHandshakeError as err:
            if err.status == 401:
                raise InvalidAuth("the gateway refused the token") from err
            raise CannotConnect(f"handshake failed: {err.status}") from err
        except (aiohttp.ClientError, TimeoutError, ValueError, TypeError) as err:
            raise CannotConnect(f"cannot connect to {self.url}: {err}") from err
        if not isinstance(info, dict) or info.get("type") != "server_info":
            await self.disconnect()
            raise CannotConnect("the gateway did not introduce itself")
        schema = int(info.get("schema_version", 0))
        if schema < MIN_SCHEMA_VERSION:
            await self.disconnect()
            raise SchemaMismatch(schema, "gateway")
        if int(info.get("min_supported_schema_version", 0)) > SCHEMA_VERSION:
            await self.disconnect()
            raise SchemaMismatch(schema, "integration")
        self.server_info = info
        self._reader = asyncio.create_task(self._read(self._ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for frame in ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    decoded = frame.json()
                except ValueError:
                    _LOGGER.warning("Ignoring a frame that is not JSON from %s", self.url)
                    continue
                # schema 5: messages queued together arrive as one array
                for message in decoded if isinstance(decoded, list) else [decoded]:
                    if isinstance(message, dict):
                        self._handle(message)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(CannotConnect("connection to the gateway lost"))
            self._pending.clear()
            if self.on_disconnect is not None and self._ws is ws:
                self.on_disconnect()

    def _handle(self, message: dict[str, Any]) -> None:
        if message.get("type") == "result":
            message_id: Any = message.get("message_id")
            future = self._pending.pop(message_id, None)
            if future is not None and not future.done():
                future.set_result(message)
        elif message.get("type") == "event" and self._on_event is not None:
            self._on_event(message.get("event", ""), message.get("data") or {})

    async def command(self, command: str, **args: Any) -> dict[str, Any]:
        if self._ws is None or self._ws.closed:
            raise CannotConnect("not connected to the gateway")
        message_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        try:
            await self._ws.send_json({"message_id": message_id, "command": command, "args": args})
            reply = await asyncio.wait_for(future, COMMAND_TIMEOUT)
        except (aiohttp.ClientError, ConnectionError) as err:
            raise CannotConnect(str(err)) from err
        except TimeoutError as err:
            raise CommandError("timeout", {"message": f"{command} got no answer"}) from err
        finally:
            self._pending.pop(message_id, None)
        if not reply.get("success"):
            raise CommandError(reply.get("error_code", "unknown"), reply.get("details") or {})
        result: dict[str, Any] = reply.get("result") or {}
        return result

    async def start_listening(self, on_event: EventCallback) -> list[dict[str, Any]]:
        self._on_event = on_event
        schema = int((self.server_info or {}).get("schema_version", 0))
        # from schema 5 the gateway sends what it has queued in one frame when asked to
        args = {"coalesce": True} if schema >= COALESCE_SCHEMA_VERSION else {}
        result = await self.command("start_listening", **args)
        endpoints: list[dict[str, Any]] = result.get("endpoints", [])
        return endpoints

    async def observe(self, endpoint: str, path: str) -> list[dict[str, Any]]:
        """Observe path; the values of the first notification."""
        result = await self.command("observe", endpoint=endpoint, path=path)
        values = result.get("values") if isinstance(result, dict) else None
        return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []

    async def disconnect(self) -> None:
        ws, self._ws = self._ws, None
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if ws is not None:
            await ws.close()
