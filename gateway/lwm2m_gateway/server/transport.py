"""The CoAP side of the server: one aiocoap context, and requests routed by first path segment.

Each role that answers devices registers the segment it owns ("rd", "dp", "fw"); the router
turns a role's Lwm2mError into the CoAP code it carries, so roles never build error responses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiocoap
import aiocoap.resource
from aiocoap.numbers.codes import Code

from ..coap import bound_port, close_context, open_context
from ..lwm2m.errors import Lwm2mError

_LOGGER = logging.getLogger(__name__)
Route = Callable[[aiocoap.Message], Awaitable[aiocoap.Message]]


class _Router(aiocoap.resource.Resource, aiocoap.resource.PathCapable):  # type: ignore[misc]
    def __init__(self, routes: dict[str, Route]) -> None:
        super().__init__()
        self._routes = routes

    async def render(self, request: aiocoap.Message) -> aiocoap.Message:
        path = request.opt.uri_path
        route = self._routes.get(path[0]) if path else None
        if route is None:
            return aiocoap.Message(code=Code.NOT_FOUND, payload=b"no such resource")
        try:
            return await route(request)
        except Lwm2mError as err:
            if err.coap_code == Code.INTERNAL_SERVER_ERROR:
                _LOGGER.exception("Error answering %s", request)
            return aiocoap.Message(code=err.coap_code, payload=str(err).encode()[:512])
        except Exception:
            _LOGGER.exception("Unexpected error answering %s", request)
            return aiocoap.Message(code=Code.INTERNAL_SERVER_ERROR)


class CoapTransport:
    """Owns the aiocoap context: listening, the routes, and sending requests to devices."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._requested_port = port
        self._routes: dict[str, Route] = {}
        self._context: aiocoap.Context | None = None
        self._port = 0

    def route(self, segment: str, handler: Route) -> None:
        self._routes[segment] = handler

    async def start(self) -> None:
        self._context = await open_context(
            _Router(self._routes), bind=(self._host, self._requested_port)
        )
        self._port = bound_port(self._context) or self._requested_port

    async def stop(self) -> None:
        if self._context is not None:
            await close_context(self._context)
            self._context = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def context(self) -> aiocoap.Context:
        if self._context is None:
            raise RuntimeError("the server is not started")
        return self._context
