"""Device management: one method per LwM2M operation (1.1 core §6.3), and the request plumbing.

The base of Lwm2mServer (observations.py adds information reporting on top). Every request
goes through `_exchange`, which waits for a sleeping queue-mode device, bounds the wait for an
answer, and turns CoAP failures into typed errors.
Reads and observes ask in the best format the device announced and move on when it answers
4.06 Not Acceptable; writes move on after 4.15 Unsupported Content-Format.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import aiocoap
import aiocoap.error
from aiocoap.numbers.codes import Code

from .coap import wait_response
from .codecs import (
    COMPOSITE_FORMATS,
    ContentFormat,
    decode,
    encode,
    encode_paths,
    preferred_formats,
)
from .codecs.common import TypeResolver
from .endpoint_state import EndpointState
from .errors import DeviceError, DeviceTimeout, Lwm2mError, raise_for_code
from .links import parse_link_format
from .paths import InvalidPath, Path, PathLevel
from .registration import ObjectEntry
from .values import Record

if TYPE_CHECKING:
    from ..store import Store
    from .model import ObjectRegistry
    from .server import ServerConfig

_LOGGER = logging.getLogger(__name__)
RETRY_CODES = frozenset({Code.NOT_ACCEPTABLE, Code.UNSUPPORTED_CONTENT_FORMAT})
ATTRIBUTES = ("pmin", "pmax", "gt", "lt", "st", "epmin", "epmax")


class Operations:
    store: Store
    registry: ObjectRegistry
    config: ServerConfig

    # provided by Lwm2mServer
    def state(self, endpoint: str) -> EndpointState:
        raise NotImplementedError

    def touch(self, state: EndpointState) -> None:
        raise NotImplementedError

    async def wait_awake(self, state: EndpointState) -> None:
        raise NotImplementedError

    def apply_records(self, state: EndpointState, records: Sequence[Record]) -> None:
        raise NotImplementedError

    def emit(self, name: str, endpoint: str, data: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        raise NotImplementedError

    @property
    def context(self) -> aiocoap.Context:
        raise NotImplementedError

    # --- plumbing ----------------------------------------------------------------------------------

    def types(self, state: EndpointState) -> TypeResolver:
        return self.registry.type_resolver(state.registration.object_versions())

    def message(
        self, state: EndpointState, code: Code, path: Path, **options: Any
    ) -> aiocoap.Message:
        return aiocoap.Message(code=code, uri=state.registration.uri(path), **options)

    async def _exchange(
        self,
        state: EndpointState,
        message: aiocoap.Message,
        path: Path,
        seconds: float | None = None,
    ) -> aiocoap.Message:
        await self.wait_awake(state)
        limit = seconds or self.config.request_timeout
        try:
            response = await wait_response(self.context.request(message), limit)
        except TimeoutError:
            raise DeviceTimeout(
                f"{state.name} did not answer within {limit:g} s",
                endpoint=state.name,
                path=str(path),
            ) from None
        except aiocoap.error.Error as err:
            raise DeviceTimeout(
                f"{state.name} unreachable: {err}", endpoint=state.name, path=str(path)
            ) from err
        self.touch(state)
        return response

    def _formats(self, state: EndpointState, kind: str, *, single: bool) -> list[int]:
        registration = state.registration
        formats = preferred_formats(
            registration.content_formats, registration.lwm2m_version, single_value=single
        )
        if (worked := state.formats.get(kind)) in formats:
            formats.remove(worked)
            formats.insert(0, worked)
        return formats

    async def _negotiate(
        self,
        state: EndpointState,
        kind: str,
        formats: Sequence[int],
        build: Any,
        path: Path,
        *,
        seconds: float | None = None,
    ) -> tuple[aiocoap.Message, int]:
        """Send build(fmt) for each format in turn until the device accepts one."""
        response: aiocoap.Message | None = None
        for fmt in formats:
            response = await self._exchange(state, build(fmt), path, seconds)
            if response.code not in RETRY_CODES:
                raise_for_code(response.code, response.payload, endpoint=state.name, path=str(path))
                state.formats[kind] = fmt
                return response, fmt
        assert response is not None
        raise DeviceError(
            response.code,
            f"no acceptable content format among {list(formats)}",
            endpoint=state.name,
            path=str(path),
        )

    def _decode(
        self, state: EndpointState, response: aiocoap.Message, fmt: int, base: Path
    ) -> list[Record]:
        actual = response.opt.content_format
        return decode(response.payload, fmt if actual is None else actual, base, self.types(state))

    # --- device management ------------------------------------------------------------------------

    async def read(self, endpoint: str, paths: Sequence[Path]) -> list[Record]:
        state = self.state(endpoint)
        if len(paths) == 1:
            records = await self._read_one(state, paths[0])
        else:
            records = await self._read_composite(state, paths)
        self.apply_records(state, records)
        return records

    async def _read_one(self, state: EndpointState, path: Path) -> list[Record]:
        single = path.level >= PathLevel.RESOURCE
        formats = self._formats(state, "read", single=single)
        response, fmt = await self._negotiate(
            state,
            "read",
            formats,
            lambda f: self.message(state, Code.GET, path, accept=f),
            path,
        )
        return self._decode(state, response, fmt, path)

    def _composite_formats(self, state: EndpointState) -> list[int]:
        # SenML only: LwM2M CBOR cannot name bare paths in a request the simulator would parse
        return [
            f
            for f in self._formats(state, "composite", single=False)
            if f in (ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON)
        ]

    async def _read_composite(self, state: EndpointState, paths: Sequence[Path]) -> list[Record]:
        """Read-Composite (1.1 core §6.3.5): FETCH on the root with the list of paths."""

        def build(fmt: int) -> aiocoap.Message:
            return self.message(
                state, Code.FETCH, Path(), payload=encode_paths(paths, fmt),
                content_format=fmt, accept=fmt,
            )  # fmt: skip

        formats = self._composite_formats(state)
        response, fmt = await self._negotiate(state, "composite", formats, build, Path())
        return self._decode(state, response, fmt, Path())

    async def write(
        self,
        endpoint: str,
        path: Path | None,
        records: Sequence[Record],
        *,
        replace: bool,
        block_size: int | None = None,
        seconds: float | None = None,
    ) -> None:
        """Write (1.1 core §6.3.3); block_size (16..1024, a power of two) caps the Block1 size
        of a large payload, and seconds bounds the whole transfer, for slow links
        (RFC 7959 §2.2: SZX = log2(size) - 4)."""
        state = self.state(endpoint)
        types = self.types(state)
        if path is None:  # composite Write: iPATCH on the root (1.1 core §6.3.4.2)
            formats = [
                f for f in self._formats(state, "composite", single=False) if f in COMPOSITE_FORMATS
            ]
            code, base = Code.iPATCH, Path()
        else:
            base = path
            single = path.level >= PathLevel.RESOURCE and len(records) == 1
            formats = self._formats(state, "write", single=single)
            partial = not replace and path.level in (PathLevel.INSTANCE, PathLevel.RESOURCE)
            multiple = path.level is PathLevel.RESOURCE and any(
                r.path.level is PathLevel.RESOURCE_INSTANCE for r in records
            )
            code = (
                Code.POST
                if partial and (path.level is PathLevel.INSTANCE or multiple)
                else Code.PUT
            )
        await self._negotiate(
            state,
            "write" if path is not None else "composite",
            formats,
            lambda f: self._sized(
                self.message(
                    state, code, base, payload=encode(records, f, base, types), content_format=f
                ),
                block_size,
            ),
            base,
            seconds=seconds,
        )
        self.apply_records(state, records)

    @staticmethod
    def _sized(message: aiocoap.Message, block_size: int | None) -> aiocoap.Message:
        if block_size is not None:
            if block_size not in (16, 32, 64, 128, 256, 512, 1024):
                raise Lwm2mError(f"block size {block_size} is not a power of two in 16..1024")
            message.remote.maximum_block_size_exp = block_size.bit_length() - 5
        return message

    async def execute(self, endpoint: str, path: Path, args: str | None = None) -> None:
        state = self.state(endpoint)
        message = self.message(state, Code.POST, path, payload=(args or "").encode())
        if args:
            message.opt.content_format = ContentFormat.TEXT
        response = await self._exchange(state, message, path)
        raise_for_code(response.code, response.payload, endpoint=endpoint, path=str(path))

    async def discover(self, endpoint: str, path: Path) -> list[tuple[Path, dict[str, str]]]:
        state = self.state(endpoint)
        message = self.message(state, Code.GET, path, accept=ContentFormat.LINK_FORMAT)
        response = await self._exchange(state, message, path)
        raise_for_code(response.code, response.payload, endpoint=endpoint, path=str(path))
        root = state.registration.root_path.rstrip("/")
        found = []
        for link in parse_link_format(response.payload.decode("utf-8", "replace")):
            target = (
                link.target[len(root) :] if root and link.target.startswith(root) else link.target
            )
            try:
                linked = Path.parse(target)
            except InvalidPath:
                continue
            attributes = {k: ("" if v is None else v) for k, v in link.params.items()}
            found.append((linked, attributes))
            if linked.level is PathLevel.RESOURCE:
                state.resources.add(linked)
        return found

    async def write_attributes(
        self, endpoint: str, path: Path, attributes: Mapping[str, float | None]
    ) -> None:
        """Write-Attributes (1.1 core §5.1.2, §6.3.7): a None value removes the attribute."""
        state = self.state(endpoint)
        query = []
        for name, value in attributes.items():
            if name not in ATTRIBUTES:
                raise Lwm2mError(f"unknown attribute {name!r}", endpoint=endpoint, path=str(path))
            if value is None:
                query.append(name)
            else:
                text = (
                    str(int(value)) if name in ("pmin", "pmax", "epmin", "epmax") else f"{value:g}"
                )
                query.append(f"{name}={text}")
        message = self.message(state, Code.PUT, path, uri_query=tuple(query))
        response = await self._exchange(state, message, path)
        raise_for_code(response.code, response.payload, endpoint=endpoint, path=str(path))

    async def create(
        self,
        endpoint: str,
        object_path: Path,
        records: Sequence[Record],
        instance_id: int | None = None,
    ) -> Path:
        """Create (1.1 core §6.3.6): records are placed in instance `instance_id` (or 0 until
        the device assigns one)."""
        state = self.state(endpoint)
        if object_path.level is not PathLevel.OBJECT or object_path.object_id is None:
            raise Lwm2mError(f"create needs an object path, got {object_path}", endpoint=endpoint)
        oid = object_path.object_id
        types = self.types(state)
        formats = self._formats(state, "write", single=False)
        if instance_id is None and ContentFormat.TLV in formats:
            # TLV can omit the instance id, so the device picks one
            formats = [ContentFormat.TLV, *[f for f in formats if f != ContentFormat.TLV]]
        chosen = instance_id

        def build(fmt: int) -> aiocoap.Message:
            nonlocal chosen
            if instance_id is None and fmt == ContentFormat.TLV:
                body = encode(records, fmt, Path(oid, records[0].path.instance_id or 0), types)
            else:
                if chosen is None:
                    chosen = self._free_instance(state, oid)
                placed = [
                    Record(Path(oid, chosen, *r.path.ids[2:]), r.value, r.time) for r in records
                ]
                body = encode(placed, fmt, object_path, types)
            return self.message(state, Code.POST, object_path, payload=body, content_format=fmt)

        response, _ = await self._negotiate(state, "write", formats, build, object_path)
        location = [p for p in response.opt.location_path if p]
        created = Path.parse("/".join(location[-2:])) if location else Path(oid, chosen or 0)
        entry = state.registration.objects.setdefault(oid, ObjectEntry())
        if created.instance_id is not None and created.instance_id not in entry.instances:
            entry.instances.append(created.instance_id)
        self.store.save_registration(endpoint, state.registration.to_json())
        self.apply_records(
            state, [Record(Path(*created.ids, *r.path.ids[2:]), r.value, r.time) for r in records]
        )
        self.emit("endpoint_updated", endpoint, state.to_json(self.registry))
        return created

    def _free_instance(self, state: EndpointState, oid: int) -> int:
        used = set(state.registration.objects.get(oid, ObjectEntry()).instances)
        used |= {
            p.instance_id
            for p in state.resources
            if p.object_id == oid and p.instance_id is not None
        }
        return next(i for i in range(65535) if i not in used)

    async def delete(self, endpoint: str, path: Path) -> None:
        state = self.state(endpoint)
        response = await self._exchange(state, self.message(state, Code.DELETE, path), path)
        raise_for_code(response.code, response.payload, endpoint=endpoint, path=str(path))
        entry = state.registration.objects.get(path.object_id or 0)
        if entry is not None and path.instance_id in entry.instances:
            entry.instances.remove(path.instance_id)
        state.forget(path)
        self.store.save_registration(endpoint, state.registration.to_json())
        self.store.delete_values(endpoint, str(path))
        self.emit("endpoint_updated", endpoint, state.to_json(self.registry))

    async def inventory(self, state: EndpointState, object_ids: Sequence[int]) -> None:
        """Learn what a newly registered device has: Discover then Read each announced object."""
        for oid in object_ids:
            if oid in (0, 21):
                continue
            path = Path(oid)
            try:
                await self.discover(state.name, path)
                await self.read(state.name, [path])
            except Lwm2mError as err:
                _LOGGER.debug("Inventory of %s %s: %s", state.name, path, err)
