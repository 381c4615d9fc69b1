"""Small aiocoap helpers that every CoAP user in the gateway shares."""

from __future__ import annotations

import asyncio
from typing import Any

import aiocoap


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved, so a LibraryShutdown at exit is not reported as lost


async def wait_response(pending: Any, seconds: float) -> aiocoap.Message:
    """Wait for aiocoap's response future without ever cancelling it: aiocoap sets its result
    from the datagram callback and fails if a caller's timeout had cancelled it."""
    future: asyncio.Future[aiocoap.Message] = pending.response
    future.add_done_callback(_consume)
    return await asyncio.wait_for(asyncio.shield(future), seconds)


def bound_port(context: aiocoap.Context) -> int | None:
    """The UDP port a context really bound (when asked for port 0)."""
    for interface in context.request_interfaces:
        messages = getattr(getattr(interface, "token_interface", None), "message_interface", None)
        local_port = getattr(messages, "_local_port", None)
        if callable(local_port):
            port = local_port()
            if isinstance(port, int):
                return port
    return None
