"""Device management (LwM2M 1.1 core §6.3): one method per operation, each a request to the
device through the request sender, its outcome merged into the endpoint's known values."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import aiocoap
from aiocoap.numbers.codes import Code

from ..lwm2m.codecs import COMPOSITE_FORMATS, ContentFormat, encode, encode_paths
from ..lwm2m.errors import DeviceError, DeviceTimeout, Lwm2mError, raise_for_code
from ..lwm2m.links import parse_link_format
from ..lwm2m.model import ObjectRegistry
from ..lwm2m.paths import InvalidPath, Path, PathLevel
from ..lwm2m.registration import ObjectEntry
from ..lwm2m.values import Record
from .endpoint import EndpointState
from .events import EventBus
from .registrations import Registrations
from .requests import WRITE_RETRY_CODES, RequestSender
from .resource_values import ResourceValues

_LOGGER = logging.getLogger(__name__)
ATTRIBUTES = ("pmin", "pmax", "gt", "lt", "st", "epmin", "epmax")
UNREADABLE_OBJECTS = frozenset({0, 21})  # Security and OSCORE are not readable by a server
BLOCK_SIZES = (16, 32, 64, 128, 256, 512, 1024)
COMPOSITE_PROBE = 5.0  # s a composite request may take before the device is taken not to do them
COMPOSITE_REFUSALS = frozenset(
    {Code.METHOD_NOT_ALLOWED, Code.NOT_IMPLEMENTED, Code.BAD_REQUEST, Code.NOT_FOUND}
)


class DeviceManagement:
    def __init__(
        self,
        *,
        requests: RequestSender,
        registrations: Registrations,
        values: ResourceValues,
        events: EventBus,
        registry: ObjectRegistry,
    ) -> None:
        self._requests = requests
        self._registrations = registrations
        self._values = values
        self._events = events
        self._registry = registry

    def _changed(self, state: EndpointState) -> None:
        """Instances were created or deleted: store the registration and tell the API."""
        self._registrations.save(state)
        self._events.emit("endpoint_updated", state.name, state.to_json(self._registry))

    async def read(self, endpoint: str, paths: Sequence[Path]) -> list[Record]:
        state = self._registrations.get(endpoint)
        if len(paths) == 1:
            records = await self._read_one(state, paths[0])
        else:
            records = await self._read_composite(state, paths)
        self._values.apply(state, records)
        return records

    async def _read_one(self, state: EndpointState, path: Path) -> list[Record]:
        requests = self._requests
        formats = requests.formats(state, "read", single=path.level >= PathLevel.RESOURCE)
        response, _, fmt = await requests.negotiate(
            state,
            "read",
            formats,
            lambda f: requests.message(state, Code.GET, path, accept=f),
            path,
        )
        return requests.decode(state, response, fmt, path)

    async def _read_composite(self, state: EndpointState, paths: Sequence[Path]) -> list[Record]:
        """Read-Composite (1.1 core §6.3.5): FETCH on the root with the list of paths."""

        def build(fmt: int) -> aiocoap.Message:
            return self._requests.message(
                state, Code.FETCH, Path(), payload=encode_paths(paths, fmt),
                content_format=fmt, accept=fmt,
            )  # fmt: skip

        if not state.no_composite:
            formats = self._requests.composite_formats(state)
            try:
                response, _, fmt = await self._requests.negotiate(
                    state, "composite", formats, build, Path(), seconds=self._probe_seconds()
                )
                return self._requests.decode(state, response, fmt, Path())
            except (DeviceTimeout, DeviceError) as err:
                if not self._composite_unsupported(state, err):
                    raise
        records: list[Record] = []
        for path in paths:
            records.extend(await self._read_one(state, path))
        return records

    def _probe_seconds(self) -> float:
        return min(COMPOSITE_PROBE, self._requests.request_timeout)

    @staticmethod
    def _composite_unsupported(state: EndpointState, err: Exception) -> bool:
        """A device that ignores FETCH/iPATCH (an empty ACK, then silence) or refuses the
        method gets single requests from now on (1.1 core §6.3.5 is optional for 1.0)."""
        if isinstance(err, DeviceError) and err.coap_code not in COMPOSITE_REFUSALS:
            return False
        state.no_composite = True
        _LOGGER.info("%s does not answer composite requests (%s): single requests", state.name, err)
        return True

    async def write(
        self,
        endpoint: str,
        path: Path | None,
        records: Sequence[Record],
        *,
        replace: bool,
        block_size: int | None = None,
        seconds: float | None = None,
        chosen_formats: Sequence[int] | None = None,
    ) -> None:
        """Write (1.1 core §6.3.3); path None is a composite Write. block_size (16..1024, a
        power of two) caps the Block1 size of a large payload and seconds bounds the whole
        transfer, for slow links (RFC 7959 §2.2: SZX = log2(size) - 4)."""
        if block_size is not None and block_size not in BLOCK_SIZES:
            raise Lwm2mError(f"block size {block_size} is not a power of two in 16..1024")
        state = self._registrations.get(endpoint)
        types = self._requests.types(state)
        if path is None and state.no_composite:
            await self._write_singly(endpoint, records, block_size, seconds)
            return
        if path is None:  # composite Write: iPATCH on the root (1.1 core §6.3.4.2)
            formats = [
                f
                for f in self._requests.formats(state, "composite", single=False)
                if f in COMPOSITE_FORMATS
            ]
            code, base, kind = Code.iPATCH, Path(), "composite"
        else:
            base, kind = path, "write"
            single = path.level >= PathLevel.RESOURCE and len(records) == 1
            formats = self._requests.formats(state, "write", single=single)
            partial = not replace and path.level in (PathLevel.INSTANCE, PathLevel.RESOURCE)
            multiple = path.level is PathLevel.RESOURCE and any(
                r.path.level is PathLevel.RESOURCE_INSTANCE for r in records
            )
            code = (
                Code.POST
                if partial and (path.level is PathLevel.INSTANCE or multiple)
                else Code.PUT
            )

        def build(fmt: int) -> aiocoap.Message:
            message = self._requests.message(
                state, code, base, payload=encode(records, fmt, base, types), content_format=fmt
            )
            if block_size is not None:
                message.remote.maximum_block_size_exp = block_size.bit_length() - 5
            return message

        if chosen_formats is not None:
            formats = list(chosen_formats)
        remote = state.remote  # shared by every request to the device: its block size is restored
        previous_exp = getattr(remote, "maximum_block_size_exp", None)
        try:
            await self._requests.negotiate(
                state, kind, formats, build, base,
                seconds=seconds or (self._probe_seconds() if path is None else None),
                retry_on=WRITE_RETRY_CODES,
            )  # fmt: skip
        except (DeviceTimeout, DeviceError) as err:
            if path is not None or not self._composite_unsupported(state, err):
                raise
            await self._write_singly(endpoint, records, block_size, seconds)
            return
        finally:
            if remote is not None and previous_exp is not None:
                remote.maximum_block_size_exp = previous_exp
        self._values.apply(state, records)

    async def _write_singly(
        self,
        endpoint: str,
        records: Sequence[Record],
        block_size: int | None,
        seconds: float | None,
    ) -> None:
        """A composite Write as one Write per resource, for devices without iPATCH."""
        by_resource: dict[Path, list[Record]] = {}
        for record in records:
            by_resource.setdefault(record.path.resource_path, []).append(record)
        for resource, group in by_resource.items():
            await self.write(
                endpoint, resource, group, replace=False, block_size=block_size, seconds=seconds
            )

    async def execute(self, endpoint: str, path: Path, args: str | None = None) -> None:
        state = self._registrations.get(endpoint)
        message = self._requests.message(state, Code.POST, path, payload=(args or "").encode())
        if args:
            message.opt.content_format = ContentFormat.TEXT
        response = await self._requests.exchange(state, message, path)
        raise_for_code(response.code, response.payload, endpoint=endpoint, path=str(path))

    async def discover(self, endpoint: str, path: Path) -> list[tuple[Path, dict[str, str]]]:
        state = self._registrations.get(endpoint)
        message = self._requests.message(state, Code.GET, path, accept=ContentFormat.LINK_FORMAT)
        response = await self._requests.exchange(state, message, path)
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
        state = self._registrations.get(endpoint)
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
        message = self._requests.message(state, Code.PUT, path, uri_query=tuple(query))
        response = await self._requests.exchange(state, message, path)
        raise_for_code(response.code, response.payload, endpoint=endpoint, path=str(path))
        if "pmax" in attributes:  # the observation watchdog expects a notification this often
            pmax = attributes["pmax"]
            if pmax is None:
                state.pmax.pop(path, None)
            else:
                state.pmax[path] = float(pmax)

    async def create(
        self,
        endpoint: str,
        object_path: Path,
        records: Sequence[Record],
        instance_id: int | None = None,
    ) -> Path:
        """Create (1.1 core §6.3.6): records are placed in instance `instance_id` (or one the
        device assigns, where the format can leave it out)."""
        state = self._registrations.get(endpoint)
        if object_path.level is not PathLevel.OBJECT or object_path.object_id is None:
            raise Lwm2mError(f"create needs an object path, got {object_path}", endpoint=endpoint)
        oid = object_path.object_id
        types = self._requests.types(state)
        formats = self._requests.formats(state, "write", single=False)
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
                    chosen = _free_instance(state, oid)
                placed = [
                    Record(Path(oid, chosen, *r.path.ids[2:]), r.value, r.time) for r in records
                ]
                body = encode(placed, fmt, object_path, types)
            return self._requests.message(
                state, Code.POST, object_path, payload=body, content_format=fmt
            )

        response = (
            await self._requests.negotiate(state, "write", formats, build, object_path)
        ).response
        location = [p for p in response.opt.location_path if p]
        created = Path.parse("/".join(location[-2:])) if location else Path(oid, chosen or 0)
        entry = state.registration.objects.setdefault(oid, ObjectEntry())
        if created.instance_id is not None and created.instance_id not in entry.instances:
            entry.instances.append(created.instance_id)
        self._values.apply(
            state, [Record(Path(*created.ids, *r.path.ids[2:]), r.value, r.time) for r in records]
        )
        self._changed(state)
        return created

    async def delete(self, endpoint: str, path: Path) -> None:
        state = self._registrations.get(endpoint)
        message = self._requests.message(state, Code.DELETE, path)
        response = await self._requests.exchange(state, message, path)
        raise_for_code(response.code, response.payload, endpoint=endpoint, path=str(path))
        entry = state.registration.objects.get(path.object_id or 0)
        if entry is not None and path.instance_id in entry.instances:
            entry.instances.remove(path.instance_id)
        self._values.forget(state, path)
        self._changed(state)

    async def inventory(self, state: EndpointState, object_ids: Sequence[int]) -> bool:
        """Learn what a device has: Discover then Read each object (the inventory role paces
        these). Returns whether it is complete: it stops at the first request the device
        leaves unanswered, rather than waiting out a timeout per object."""
        for oid in object_ids:
            if oid in UNREADABLE_OBJECTS:
                continue
            path = Path(oid)
            try:
                await self.discover(state.name, path)
                await self.read(state.name, [path])
            except DeviceTimeout as err:
                _LOGGER.debug("Inventory of %s stopped at %s: %s", state.name, path, err)
                return False
            except Lwm2mError as err:  # an object it refuses to show: the others still count
                _LOGGER.debug("Inventory of %s %s: %s", state.name, path, err)
        return True


def _free_instance(state: EndpointState, oid: int) -> int:
    used = set(state.registration.objects.get(oid, ObjectEntry()).instances)
    used |= {
        p.instance_id for p in state.resources if p.object_id == oid and p.instance_id is not None
    }
    return next(i for i in range(65535) if i not in used)
