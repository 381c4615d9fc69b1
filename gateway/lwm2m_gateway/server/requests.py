"""Sending one request to a device: waiting for a sleeping device, bounding the wait for an
answer, choosing the content format and moving on when the device refuses it.

Reads and observes ask in the best format the device announced and move on when it answers
4.06 Not Acceptable; writes move on after 4.15 Unsupported Content-Format. The format that
worked is remembered per endpoint and kind of request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import aiocoap
import aiocoap.error
from aiocoap.numbers.codes import Code

from ..coap import OutgoingRequest, wait_response
from ..coap_tokens import Ended, Follow, Notified
from ..lwm2m.codecs import ContentFormat, decode, preferred_formats
from ..lwm2m.codecs.common import TypeResolver
from ..lwm2m.errors import DeviceError, DeviceTimeout, raise_for_code
from ..lwm2m.model import ObjectRegistry
from ..lwm2m.paths import Path
from ..lwm2m.values import Record
from .config import ServerConfig
from .endpoint import EndpointState
from .presence import Presence
from .transport import CoapTransport

RETRY_CODES = frozenset({Code.NOT_ACCEPTABLE, Code.UNSUPPORTED_CONTENT_FORMAT})
# a Write in a format the client parses differently is often refused as malformed (4.00) or as
# naming a resource it does not have (4.04): try the next format before giving up
WRITE_RETRY_CODES = RETRY_CODES | {Code.BAD_REQUEST, Code.NOT_FOUND}
Build = Callable[[int], aiocoap.Message]


class Negotiated(NamedTuple):
    response: aiocoap.Message
    request: Any  # aiocoap's pending request (its .observation, for an observe)
    fmt: int  # the content format the device accepted


class RequestSender:
    def __init__(
        self,
        config: ServerConfig,
        transport: CoapTransport,
        presence: Presence,
        registry: ObjectRegistry,
    ) -> None:
        self._config = config
        self._transport = transport
        self._presence = presence
        self._registry = registry

    @property
    def request_timeout(self) -> float:
        return self._config.request_timeout

    def types(self, state: EndpointState) -> TypeResolver:
        """The model's types for this registration's object versions (made once per
        registration: asked for on every notification)."""
        cached = state.types
        if cached is None or cached[0] is not state.registration:
            resolver = self._registry.type_resolver(state.registration.object_versions())
            cached = state.types = (state.registration, resolver)
        resolver_of_registration: TypeResolver = cached[1]
        return resolver_of_registration

    @staticmethod
    def message(state: EndpointState, code: Code, path: Path, **options: Any) -> aiocoap.Message:
        registration = state.registration
        if state.remote is None and registration.security == "nosec":
            # restored from the store: no remote yet, so by its URI (aiocoap resolves it)
            return OutgoingRequest(code=code, uri=registration.uri(path), **options)
        if state.remote is None:  # restored from the store: the session died with the process
            raise DeviceTimeout(
                f"{state.name} has no DTLS session yet; it will have one when it next speaks",
                endpoint=state.name,
                path=str(path),
            )
        # the remote its last Register or Update came from: no name resolution per request
        # (resolving in a thread let requests queued for a sleeping device leave out of order)
        message = OutgoingRequest(code=code, uri_path=registration.uri_path(path), **options)
        message.remote = state.remote
        return message

    async def exchange(
        self,
        state: EndpointState,
        message: aiocoap.Message,
        path: Path,
        seconds: float | None = None,
    ) -> aiocoap.Message:
        """One request and its response (any code); typed errors for silence and failure."""
        response, _ = await self.start(state, message, path, seconds)
        return response

    async def start(
        self,
        state: EndpointState,
        message: aiocoap.Message,
        path: Path,
        seconds: float | None = None,
        *,
        blockwise: bool = True,
    ) -> tuple[aiocoap.Message, Any]:
        """Like exchange, and also return aiocoap's pending request (for its observation)."""
        await self._presence.wait_awake(state)
        limit = seconds or self._config.request_timeout
        request = self._transport.request(message, blockwise=blockwise)
        try:
            response = await wait_response(request, limit)
        except TimeoutError:
            raise DeviceTimeout(
                f"{state.name} did not answer within {limit:g} s",
                endpoint=state.name,
                path=str(path),
            ) from None
        except aiocoap.error.Error as err:
            self._presence.unreachable(state, str(err))
            raise DeviceTimeout(
                f"{state.name} unreachable: {err}", endpoint=state.name, path=str(path)
            ) from err
        self._presence.touch(state)
        return response, request

    def follow(
        self, request: Any, response: aiocoap.Message, notified: Notified, ended: Ended
    ) -> Follow | None:
        """Follow the observation that request started (see CoapTransport.follow)."""
        return self._transport.follow(request, response, notified, ended)

    def formats(self, state: EndpointState, kind: str, *, single: bool) -> list[int]:
        """The formats to try for a kind of request ("read", "write", "composite"), best first."""
        registration = state.registration
        formats = preferred_formats(
            registration.content_formats, registration.lwm2m_version, single_value=single
        )
        if (worked := state.formats.get(kind)) in formats:
            formats.remove(worked)
            formats.insert(0, worked)
        return formats

    def composite_formats(self, state: EndpointState) -> list[int]:
        # SenML only: LwM2M CBOR cannot name bare paths in a request the simulator would parse
        return [
            f
            for f in self.formats(state, "composite", single=False)
            if f in (ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON)
        ]

    async def negotiate(
        self,
        state: EndpointState,
        kind: str,
        formats: Sequence[int],
        build: Build,
        path: Path,
        *,
        seconds: float | None = None,
        retry_on: frozenset[Code] = RETRY_CODES,
        blockwise: bool = True,
    ) -> Negotiated:
        """Send build(fmt) for each format in turn until the device accepts one."""
        response: aiocoap.Message | None = None
        for fmt in formats:
            response, request = await self.start(
                state, build(fmt), path, seconds, blockwise=blockwise
            )
            if response.code not in retry_on:
                raise_for_code(response.code, response.payload, endpoint=state.name, path=str(path))
                state.formats[kind] = fmt
                return Negotiated(response, request, fmt)
            # a refused observe ends by itself (no Observe option in the answer); cancelling it
            # here would make aiocoap raise when its request runner later reports an error
        if response is None:
            raise DeviceError(
                Code.NOT_ACCEPTABLE, "no content format to try", endpoint=state.name, path=str(path)
            )
        if response.code not in RETRY_CODES:  # every format refused: that refusal stands
            raise_for_code(response.code, response.payload, endpoint=state.name, path=str(path))
        raise DeviceError(
            response.code,
            f"no acceptable content format among {list(formats)}",
            endpoint=state.name,
            path=str(path),
        )

    def decode(
        self, state: EndpointState, response: aiocoap.Message, fmt: int, base: Path
    ) -> list[Record]:
        actual = response.opt.content_format
        return decode(response.payload, fmt if actual is None else actual, base, self.types(state))
