"""The CoAP side of the server: the listeners, and requests routed by first path segment.

Each role that answers devices registers the segment it owns ("rd", "dp", "fw"); the router
turns a role's Lwm2mError into the CoAP code it carries, so roles never build error responses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiocoap
import aiocoap.resource
from aiocoap.numbers.codes import Code

from ..coap import bound_port, close_context, open_context
from ..coap_tokens import Ended, Follow, FollowingTokens, Notified
from ..lwm2m.errors import Lwm2mError
from .dtls import DtlsServerTransport, KeyLookup, is_secure, open_dtls_context

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
    """Owns the aiocoap contexts: plain CoAP and CoAP over DTLS-PSK, each optional, both
    answering through the same routes; requests to a device leave over the one it used."""

    def __init__(
        self, host: str, port: int | None, secure_port: int | None, keys: KeyLookup
    ) -> None:
        self._host = host
        self._requested = (port, secure_port)
        self._keys = keys
        self._routes: dict[str, Route] = {}
        self._plain: aiocoap.Context | None = None
        self._secure: aiocoap.Context | None = None
        self._dtls: list[DtlsServerTransport] = []
        self._port = 0
        self._secure_port = 0

    def route(self, segment: str, handler: Route) -> None:
        self._routes[segment] = handler

    async def start(self) -> None:
        port, secure_port = self._requested
        opening, wanted = "coap", port
        try:
            if port is not None:
                self._plain = await open_context(_Router(self._routes), bind=(self._host, port))
                self._port = bound_port(self._plain) or port
            opening, wanted = "coaps", secure_port
            if secure_port is not None:
                self._secure, self._dtls = await open_dtls_context(
                    _Router(self._routes), self._host, secure_port, self._keys
                )
                self._secure_port = self._dtls[0].port
        except OSError as err:
            await self.stop()  # the listener that did open is closed again
            raise ListenError(
                f"cannot listen for {opening} on {self._host}:{wanted}: {err.strerror or err}"
            ) from err
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for context in (self._plain, self._secure):
            if context is not None:
                await close_context(context)
        self._plain = self._secure = None

    @property
    def port(self) -> int:
        """The plain CoAP port (0 when there is no plain listener)."""
        return self._port

    @property
    def secure_port(self) -> int:
        """The coaps port (0 when there is no DTLS listener)."""
        return self._secure_port

    @property
    def sessions(self) -> int:
        return sum(transport.sessions for transport in self._dtls)

    def request(self, message: aiocoap.Message, *, blockwise: bool = True) -> Any:
        """Send a request; one whose remote is a DTLS session goes out over that session.
        blockwise=False: aiocoap's bare request, whose answers are not put together from
        Block2 blocks (lighter, for observations whose notifications fit a datagram)."""
        context = self._context_for(message.remote)
        if context is None:
            raise NoListener("the gateway has no listener for this device's transport")
        return context.request(message, handle_blockwise=blockwise)

    def _context_for(self, remote: Any) -> aiocoap.Context | None:
        """The context a device's traffic goes over: DTLS for a session, else plain."""
        return self._secure if is_secure(remote) else self._plain

    def follow(
        self, request: Any, response: aiocoap.Message, notified: Notified, ended: Ended
    ) -> Follow | None:
        """Follow the observation a bare request started (its first answer is response) at
        the token layer, instead of through aiocoap's request (see coap_tokens); None when it
        is not running."""
        context = self._context_for(response.remote)
        for tokens in context.request_interfaces if context is not None else ():
            if isinstance(tokens, FollowingTokens):
                follow = tokens.follow(request, response, notified, ended)
                if follow is not None:
                    return follow
        return None


class ListenError(Exception):
    """A listener could not be opened (the port is taken, the address is not ours)."""


class NoListener(Lwm2mError):
    error_code = "no_listener"
