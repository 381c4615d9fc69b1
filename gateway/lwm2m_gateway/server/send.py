"""LwM2M Send (1.1 core §6.4.6): values a registered device pushes to /dp on its own."""

from __future__ import annotations

import aiocoap
from aiocoap.numbers.codes import Code

from ..lwm2m.codecs import SUPPORTED_FORMATS, decode
from ..lwm2m.errors import BadRequest
from ..lwm2m.model import ObjectRegistry
from ..lwm2m.paths import Path
from .presence import Presence
from .registrations import Registrations
from .resource_values import ResourceValues


class SendReceiver:
    def __init__(
        self,
        registrations: Registrations,
        presence: Presence,
        values: ResourceValues,
        registry: ObjectRegistry,
    ) -> None:
        self._registrations = registrations
        self._presence = presence
        self._values = values
        self._registry = registry

    async def handle(self, request: aiocoap.Message) -> aiocoap.Message:
        if tuple(request.opt.uri_path) != ("dp",):
            return aiocoap.Message(code=Code.NOT_FOUND, payload=b"no such resource")
        if request.code != Code.POST:
            return aiocoap.Message(code=Code.METHOD_NOT_ALLOWED)
        state = self._registrations.sender(request.remote)
        if state is None:
            return aiocoap.Message(code=Code.FORBIDDEN, payload=b"not registered from here")
        fmt = request.opt.content_format
        if fmt is None or fmt not in SUPPORTED_FORMATS:
            raise BadRequest(f"Send needs a SenML or LwM2M CBOR content format, got {fmt}")
        types = self._registry.type_resolver(state.registration.object_versions())
        records = decode(request.payload, fmt, Path(), types)
        self._presence.touch(state)
        self._values.apply(state, records)
        return aiocoap.Message(code=Code.CHANGED)
