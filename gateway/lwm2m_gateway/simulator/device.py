"""A simulated LwM2M client on aiocoap: registers, answers device management, notifies, sends.

It is a real CoAP peer on its own UDP socket, so the gateway meets it exactly as it would meet a
Zephyr or Wakaama device. The demo, the tests and the benchmarks use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from typing import Any

import aiocoap
import aiocoap.error
import aiocoap.interfaces
import aiocoap.resource
from aiocoap.numbers.codes import Code

from ..coap import (
    bound_port,
    close_context,
    open_context,
    open_psk_client_context,
    wait_response,
)
from ..lwm2m.codecs import (
    SINGLE_VALUE_FORMATS,
    SUPPORTED_FORMATS,
    ContentFormat,
    decode,
    decode_paths,
    encode,
)
from ..lwm2m.errors import CodecError
from ..lwm2m.links import Link, format_link_format
from ..lwm2m.model import ObjectRegistry
from ..lwm2m.paths import InvalidPath, Path, PathLevel
from ..lwm2m.values import Record, Value
from .bootstrap import BootstrapSession
from .firmware import SimulatedFirmware
from .notify import DeviceObservation
from .objects import OBJECT_VERSIONS, STANDARD_EXECUTABLES, standard_objects

_LOGGER = logging.getLogger(__name__)


class _Refused(Exception):
    def __init__(self, code: Code, reason: str = "") -> None:
        super().__init__(reason)
        self.code = code


class _DeviceRoot(
    aiocoap.resource.Resource,  # type: ignore[misc]
    aiocoap.resource.PathCapable,  # type: ignore[misc]
    aiocoap.interfaces.ObservableResource,  # type: ignore[misc]
):
    def __init__(self, device: SimulatedDevice) -> None:
        super().__init__()
        self._device = device

    async def render(self, request: aiocoap.Message) -> aiocoap.Message:
        try:
            return await self._device.handle(request)
        except _Refused as refused:
            return aiocoap.Message(code=refused.code, payload=str(refused).encode())
        except CodecError as err:
            return aiocoap.Message(code=Code.BAD_REQUEST, payload=str(err).encode())

    async def add_observation(self, request: aiocoap.Message, server_observation: Any) -> None:
        self._device.add_observation(request, server_observation)


class SimulatedDevice:
    def __init__(
        self,
        endpoint: str,
        server_uri: str,
        *,
        lifetime: int = 300,
        binding: str = "U",
        lwm2m_version: str = "1.1",
        content_format: int = ContentFormat.SENML_JSON,
        accept_formats: Collection[int] | None = None,
        values: Mapping[Path, Value] | None = None,
        executables: Sequence[Path] = STANDARD_EXECUTABLES,
        host: str = "127.0.0.1",
        auto_update: bool = True,
        announce_formats: bool = True,
        psk: tuple[str, bytes] | None = None,
        bootstrap: bool = False,
        refuse_finish: str | None = None,
    ) -> None:
        """A device registering with server_uri: coap:// (NoSec) or, with psk (identity, key),
        coaps:// over DTLS-PSK. With bootstrap, server_uri is the bootstrap server's: the device
        bootstraps first (with psk, over DTLS) and registers with the account it is given."""
        self.endpoint = endpoint
        self.server_uri = server_uri.rstrip("/")
        self.lifetime = lifetime
        self.binding = binding
        self.lwm2m_version = lwm2m_version
        self.content_format = int(content_format)
        self.accept_formats = set(accept_formats or SUPPORTED_FORMATS)
        self.host = host
        self.auto_update = auto_update
        self.announce_formats = announce_formats
        self.registry = ObjectRegistry.builtin()
        self.types = self.registry.type_resolver(OBJECT_VERSIONS)
        self.values: dict[Path, Value] = dict(values or standard_objects(endpoint))
        self.executables = set(executables)
        self.instances: dict[int, set[int]] = {}
        for path in [*self.values, *self.executables]:
            self.instances.setdefault(path.object_id or 0, set()).add(path.instance_id or 0)
        self.attributes: dict[Path, dict[str, float]] = {}
        self.observations: list[DeviceObservation] = []
        self.requests: list[tuple[str, str]] = []
        self.executed: list[tuple[Path, str]] = []
        self.location: str | None = None
        self.asleep = False
        self._awake = asyncio.Event()
        self._awake.set()
        self._context: aiocoap.Context | None = None
        self._updater: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.firmware = SimulatedFirmware(self)
        self.port = 0
        self.psk = psk
        self._session: Any = None  # keeps aiocoap's DTLS client connection alive
        self.bootstrap: BootstrapSession | None = None
        self.bootstrap_server = (self.server_uri, psk)  # where and how it bootstraps
        if bootstrap:
            self.bootstrap = BootstrapSession(
                self, self.types, self.server_uri, refuse_finish=refuse_finish
            )
        self.bootstrapping = False

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self, *, register: bool = True) -> None:
        """Open the device's context and register (unless it resumes a registration it has:
        then set `location` and call update())."""
        if self.bootstrap is not None and register:
            await self.open()
            try:
                await self.run_bootstrap()
            except BaseException:
                await self.stop()
                raise
            await self.close_context()
        await self.open()
        if not register:
            return
        try:
            await self.register()
        except BaseException:
            await self.stop()  # a refused device leaves no socket or session behind
            raise
        if self.auto_update:
            self._updater = asyncio.create_task(self._keep_registered())

    async def run_bootstrap(self, wait_s: float = 20.0) -> None:
        """Bootstrap-Request, then answer the server until it finishes; take the account."""
        assert self.bootstrap is not None
        finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def finish() -> None:
            if not finished.done():
                finished.set_result(None)

        self.bootstrap.finished = finish
        self.bootstrapping = True
        try:
            query = [f"ep={self.endpoint}"]
            if self.lwm2m_version != "1.0":
                query.append(f"pct={self.content_format}")
            response = await self._to_server(Code.POST, "/bs", uri_query=query)
            if response.code != Code.CHANGED:
                raise RuntimeError(f"{self.endpoint}: Bootstrap-Request answered {response.code}")
            await asyncio.wait_for(finished, wait_s)
        finally:
            self.bootstrapping = False
        account = self.bootstrap.account()
        if account is None:
            raise RuntimeError(f"{self.endpoint}: bootstrap left no LwM2M server account")
        self.server_uri, self.psk = account.uri.rstrip("/"), account.psk
        self.lifetime, self.binding = account.lifetime, account.binding
        server = next(iter(sorted(self.instances.get(1, {0}))))
        self.executables.add(Path(1, server, 9))  # Bootstrap-Request Trigger

    async def rebootstrap(self) -> None:
        """Bootstrap again from the bootstrap account (as on /1/x/9), then register."""
        if self._updater is not None:
            self._updater.cancel()
        await self.close_context()
        self.server_uri, self.psk = self.bootstrap_server
        await self.start()

    async def close_context(self) -> None:
        if self._context is not None:
            await close_context(self._context)
            self._context = None
        self._session = None

    async def open(self) -> None:
        if self.psk is not None:
            identity, key = self.psk
            self._context = await open_psk_client_context(
                _DeviceRoot(self), self.server_uri, identity, key
            )
        else:
            self._context = await open_context(_DeviceRoot(self), bind=(self.host, 0))
            self.port = bound_port(self._context) or 0

    async def stop(self) -> None:
        if self._updater is not None:
            self._updater.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._updater
        self.firmware.close()
        for task in list(self._tasks):
            task.cancel()
        for observation in self.observations:
            observation.close()
        self._awake.set()
        if self._context is not None:
            await close_context(self._context)
            self._context = None

    async def _keep_registered(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.lifetime * 0.75))
            try:
                await self.update()
            except (aiocoap.error.Error, RuntimeError) as err:
                _LOGGER.warning("%s: update failed (%s), registering again", self.endpoint, err)
                with contextlib.suppress(aiocoap.error.Error, RuntimeError):
                    await self.register()

    @property
    def context(self) -> aiocoap.Context:
        if self._context is None:
            raise RuntimeError(f"{self.endpoint} is not started")
        return self._context

    def links(self) -> str:
        root = {"rt": "oma.lwm2m"}
        if self.announce_formats:
            root["ct"] = str(self.content_format)
        links = [Link("/", root)]
        for oid in sorted(self.instances):
            if oid == 0:
                continue  # Security: never announced (1.1 core §6.2.1)
            params = {"ver": OBJECT_VERSIONS[oid]} if oid in OBJECT_VERSIONS else {}
            for iid in sorted(self.instances[oid]):
                links.append(Link(f"/{oid}/{iid}", params))
        return format_link_format(links)

    async def _to_server(self, code: Code, path: str, **options: Any) -> aiocoap.Message:
        message = aiocoap.Message(code=code, uri=f"{self.server_uri}{path}", **options)
        response = await wait_response(self.context.request(message), 60)
        if self.psk is not None:
            self._session = response.remote  # the DTLS session lives while referenced
        return response

    async def register(self) -> None:
        query = [f"ep={self.endpoint}", f"lt={self.lifetime}", f"lwm2m={self.lwm2m_version}"]
        query.append(f"b={self.binding}")
        response = await self._to_server(
            Code.POST, "/rd", uri_query=query, payload=self.links().encode(), content_format=40
        )
        if response.code != Code.CREATED:
            raise RuntimeError(f"{self.endpoint}: Register answered {response.code}")
        self.location = "/" + "/".join(response.opt.location_path)

    async def update(self, *, with_objects: bool = False, lifetime: int | None = None) -> None:
        if self.location is None:
            raise RuntimeError(f"{self.endpoint} is not registered")
        query = [f"lt={lifetime}"] if lifetime else []
        payload = self.links().encode() if with_objects else b""
        options: dict[str, Any] = {"content_format": 40} if with_objects else {}
        response = await self._to_server(
            Code.POST, self.location, uri_query=query, payload=payload, **options
        )
        if response.code != Code.CHANGED:
            raise RuntimeError(f"{self.endpoint}: Update answered {response.code}")

    def reregister_soon(self) -> None:
        """Register again shortly, as a device does after it rebooted into new firmware."""

        self._spawn(self.register)

    def _spawn(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        async def shortly() -> None:
            await asyncio.sleep(0.1)  # the answer to the request that asked for it leaves first
            with contextlib.suppress(aiocoap.error.Error, RuntimeError, TimeoutError):
                await work()

        task = asyncio.create_task(shortly())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deregister(self) -> None:
        if self.location is not None:
            await self._to_server(Code.DELETE, self.location)
            self.location = None

    async def send(
        self,
        paths: Sequence[Path | str],
        fmt: int = ContentFormat.SENML_JSON,
        records: Sequence[Record] | None = None,
    ) -> None:
        """LwM2M Send (1.1 core §6.4.6): POST the values at paths to /dp; or records as given
        (a sleepy device's batch of timestamped readings)."""
        if records is None:
            wanted = [Path.parse(p) if isinstance(p, str) else p for p in paths]
            records = [
                Record(p, v, time.time())
                for p, v in self.values.items()
                if any(w.contains(p) for w in wanted)
            ]
        payload = encode(list(records), fmt, Path(), self.types)
        response = await self._to_server(Code.POST, "/dp", payload=payload, content_format=fmt)
        if response.code != Code.CHANGED:
            raise RuntimeError(f"{self.endpoint}: Send answered {response.code}")

    async def sleep(self) -> None:
        """Queue mode: stop answering until wake() (requests wait, as if not yet received)."""
        self.asleep = True
        self._awake.clear()

    async def wake(self) -> None:
        self.asleep = False
        self._awake.set()
        await self.update()

    # --- values --------------------------------------------------------------------------------

    def value(self, path: Path | str) -> Value | None:
        return self.values.get(Path.parse(path) if isinstance(path, str) else path)

    def set_value(self, path: Path | str, value: Value) -> None:
        target = Path.parse(path) if isinstance(path, str) else path
        self.values[target] = value
        self.instances.setdefault(target.object_id or 0, set()).add(target.instance_id or 0)
        for observation in list(self.observations):
            observation.changed(target)

    def _attributes(self, path: Path) -> dict[str, float]:
        merged: dict[str, float] = {}
        for level in range(1, path.level + 1):  # object, then instance, then resource override
            merged.update(self.attributes.get(Path.from_ids(path.ids[:level]), {}))
        return merged

    def _readable(self, path: Path) -> bool:
        """Write-only resources (5/0/0 Package) are never part of a Read (1.1 core §6.3.1)."""
        model = self.registry.resource(
            path.object_id or 0, path.resource_id or 0, OBJECT_VERSIONS.get(path.object_id or 0)
        )
        return model is None or model.readable

    def _exists(self, path: Path) -> bool:
        if path.level is PathLevel.OBJECT:
            return path.object_id in self.instances
        if path.level is PathLevel.INSTANCE:
            return path.instance_id in self.instances.get(path.object_id or 0, set())
        if path in self.executables or any(path.contains(p) for p in self.values):
            return True
        instance = Path(path.object_id, path.instance_id)
        defined = self.registry.resource(
            path.object_id or 0, path.resource_id or 0, OBJECT_VERSIONS.get(path.object_id or 0)
        )
        return defined is not None and self._exists(instance)

    # --- requests ------------------------------------------------------------------------------

    async def handle(self, request: aiocoap.Message) -> aiocoap.Message:
        if self.bootstrapping and self.bootstrap is not None:
            try:
                return self.bootstrap.handle(request)
            except InvalidPath as err:
                raise _Refused(Code.NOT_FOUND, str(err)) from err
        try:
            path = Path.parse("/".join(request.opt.uri_path))
        except InvalidPath as err:
            raise _Refused(Code.NOT_FOUND, str(err)) from err
        self.requests.append((str(request.code), str(path)))  # as it arrives, asleep or not
        if self.asleep:
            await self._awake.wait()
        if request.code == Code.GET:
            if request.opt.accept == ContentFormat.LINK_FORMAT:
                return self._discover(path)
            return self._read([path], request.opt.accept, base=path)
        if request.code == Code.FETCH:
            paths = decode_paths(request.payload, request.opt.content_format or 0)
            return self._read(paths, request.opt.accept, base=Path())
        if request.code == Code.PUT and not request.payload and request.opt.uri_query:
            return self._write_attributes(path, request.opt.uri_query)
        if request.code in (Code.PUT, Code.POST, Code.iPATCH):
            if path in self.executables:
                if path.object_id == 5 and not self.firmware.executed(path):
                    raise _Refused(Code.METHOD_NOT_ALLOWED, f"{path} not allowed in this state")
                self.executed.append((path, request.payload.decode("utf-8", "replace")))
                measured = self.values.get(Path(path.object_id or 0, path.instance_id or 0, 5700))
                if path.resource_id == 5605 and measured is not None:  # Reset Min and Max
                    for extreme in (5601, 5602):
                        self.set_value(
                            Path(path.object_id or 0, path.instance_id or 0, extreme), measured
                        )
                if path.object_id == 1 and path.resource_id == 9 and self.bootstrap is not None:
                    self._spawn(self.rebootstrap)  # after this answer has left
                return aiocoap.Message(code=Code.CHANGED)
            if request.code == Code.POST and path.level is PathLevel.OBJECT:
                return self._create(path, request)
            return self._write(path, request)
        if request.code == Code.DELETE:
            return self._delete(path)
        raise _Refused(Code.METHOD_NOT_ALLOWED)

    def _format(self, accept: int | None, single: bool) -> int:
        fmt = self.content_format if accept is None else accept
        if accept is None and single and fmt not in self.accept_formats:
            fmt = ContentFormat.TEXT
        if fmt not in self.accept_formats or fmt not in SUPPORTED_FORMATS:
            raise _Refused(Code.NOT_ACCEPTABLE, f"cannot answer in {fmt}")
        if fmt in SINGLE_VALUE_FORMATS and not single:
            raise _Refused(Code.NOT_ACCEPTABLE, f"{fmt} carries one value")
        return fmt

    def _read(self, paths: Sequence[Path], accept: int | None, base: Path) -> aiocoap.Message:
        for path in paths:
            if path in self.executables:
                raise _Refused(Code.METHOD_NOT_ALLOWED, f"{path} is executable")
            if not self._exists(path):
                raise _Refused(Code.NOT_FOUND, f"{path} does not exist")
        records = [
            Record(p, v)
            for p, v in sorted(self.values.items())
            if any(q.contains(p) for q in paths) and self._readable(p)
        ]
        single = len(records) == 1 and base.level >= PathLevel.RESOURCE and records[0].path == base
        fmt = self._format(accept, single)
        payload = encode(records, fmt, base, self.types)
        return aiocoap.Message(code=Code.CONTENT, payload=payload, content_format=fmt)

    def _discover(self, path: Path) -> aiocoap.Message:
        if not self._exists(path):
            raise _Refused(Code.NOT_FOUND, f"{path} does not exist")
        targets: set[Path] = set()
        for known in [*self.values, *self.executables]:
            if path.contains(known) or known.contains(path):
                resource = known.resource_path
                targets.add(Path(resource.object_id, resource.instance_id))
                targets.add(resource)
        links = []
        if path.level is PathLevel.OBJECT and path.object_id in OBJECT_VERSIONS:
            links.append(Link(str(path), {"ver": OBJECT_VERSIONS[path.object_id]}))
        for target in sorted(targets):
            if path.contains(target):
                params = {k: f"{v:g}" for k, v in self.attributes.get(target, {}).items()}
                links.append(Link(str(target), params))
        payload = format_link_format(links).encode()
        return aiocoap.Message(code=Code.CONTENT, payload=payload, content_format=40)

    def _decoded(self, request: aiocoap.Message, base: Path) -> list[Record]:
        fmt = request.opt.content_format
        if fmt is None or fmt not in SUPPORTED_FORMATS or fmt not in self.accept_formats:
            raise _Refused(Code.UNSUPPORTED_CONTENT_FORMAT, f"cannot read content format {fmt}")
        return decode(request.payload, fmt, base, self.types)

    def _write(self, path: Path, request: aiocoap.Message) -> aiocoap.Message:
        if request.code != Code.iPATCH and not self._exists(path):
            raise _Refused(Code.NOT_FOUND, f"{path} does not exist")
        records = self._decoded(request, Path() if request.code == Code.iPATCH else path)
        for record in records:
            model = self.registry.resource(
                record.path.object_id or 0, record.path.resource_id or 0,
                OBJECT_VERSIONS.get(record.path.object_id or 0),
            )  # fmt: skip
            if model is not None and not model.writable and record.path.object_id != 5:
                raise _Refused(Code.METHOD_NOT_ALLOWED, f"{record.path} is not writable")
        if request.code == Code.PUT and path.level is PathLevel.RESOURCE:
            for old in [p for p in self.values if p.resource_path == path]:
                del self.values[old]  # replace drops resource instances not written
        for record in records:
            self.set_value(record.path, record.value)
            if record.path.object_id == 5:
                self.firmware.written(record.path, record.value)
        return aiocoap.Message(code=Code.CHANGED)

    def _create(self, path: Path, request: aiocoap.Message) -> aiocoap.Message:
        oid = path.object_id or 0
        try:
            records = self._decoded(request, path)
        except CodecError:  # TLV without the instance wrapper: the device picks the id
            free = next(i for i in range(65535) if i not in self.instances.get(oid, set()))
            records = self._decoded(request, Path(oid, free))
        created = {record.path.instance_id for record in records}
        if len(created) != 1:
            raise _Refused(Code.BAD_REQUEST, "create one instance at a time")
        (iid,) = created
        if iid in self.instances.get(oid, set()):
            raise _Refused(Code.BAD_REQUEST, f"/{oid}/{iid} already exists")
        for record in records:
            self.set_value(record.path, record.value)
        return aiocoap.Message(code=Code.CREATED, location_path=(str(oid), str(iid)))

    def _delete(self, path: Path) -> aiocoap.Message:
        if path.level is not PathLevel.INSTANCE or not self._exists(path):
            raise _Refused(
                Code.NOT_FOUND if path.level is PathLevel.INSTANCE else Code.METHOD_NOT_ALLOWED
            )
        self.values = {p: v for p, v in self.values.items() if not path.contains(p)}
        self.instances[path.object_id or 0].discard(path.instance_id or 0)
        return aiocoap.Message(code=Code.DELETED)

    def _write_attributes(self, path: Path, query: Sequence[str]) -> aiocoap.Message:
        if not self._exists(path):
            raise _Refused(Code.NOT_FOUND, f"{path} does not exist")
        attributes = self.attributes.setdefault(path, {})
        for item in query:
            name, sep, value = item.partition("=")
            if name not in ("pmin", "pmax", "gt", "lt", "st", "epmin", "epmax"):
                raise _Refused(Code.BAD_REQUEST, f"unknown attribute {name}")
            if not sep:
                attributes.pop(name, None)
                continue
            try:
                attributes[name] = float(value)
            except ValueError as err:
                raise _Refused(Code.BAD_REQUEST, f"{name}={value!r} is not a number") from err
        return aiocoap.Message(code=Code.CHANGED)

    def add_observation(self, request: aiocoap.Message, server_observation: Any) -> None:
        try:
            if request.code == Code.FETCH:
                paths = tuple(decode_paths(request.payload, request.opt.content_format or 0))
            else:
                paths = (Path.parse("/".join(request.opt.uri_path)),)
        except (InvalidPath, CodecError):
            return
        if not all(self._exists(p) for p in paths):
            return
        observation = DeviceObservation(paths, server_observation, self._attributes, self.value)

        def cancelled() -> None:
            observation.close()
            if observation in self.observations:
                self.observations.remove(observation)

        server_observation.accept(cancelled)
        self.observations.append(observation)
