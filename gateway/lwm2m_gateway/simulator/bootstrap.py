"""The simulated device's side of client-initiated bootstrap (LwM2M 1.1 core §6.1).

The device holds a bootstrap account (Security instance 0 with Bootstrap-Server true), asks the
bootstrap server (`POST /bs?ep=...`), then answers its Bootstrap-Delete, -Discover and -Write on
/0 and /1 and its Bootstrap-Finish, which it refuses (4.06) when the result is inconsistent: no
LwM2M server account, or a Security instance whose short server id has no Server instance. The
account it was given is what it registers with afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import aiocoap
from aiocoap.numbers.codes import Code

from ..lwm2m.codecs import ContentFormat, decode
from ..lwm2m.codecs.common import TypeResolver
from ..lwm2m.paths import Path, PathLevel
from ..lwm2m.values import Record, Value

SECURITY, SERVER = 0, 1
BOOTSTRAP_INSTANCE = 0


@dataclass(frozen=True, slots=True)
class ServerAccount:
    """What the bootstrap server provisioned: where to register, and how."""

    uri: str
    psk: tuple[str, bytes] | None  # (identity, key) for security mode 0, else NoSec
    lifetime: int
    binding: str


class BootstrapHost(Protocol):
    values: dict[Path, Value]
    instances: dict[int, set[int]]


class BootstrapSession:
    def __init__(
        self,
        device: BootstrapHost,
        types: TypeResolver,
        bootstrap_uri: str,
        *,
        refuse_finish: str | None = None,
    ) -> None:
        self.device = device
        self.types = types
        self.refuse_finish = refuse_finish  # a 4.06 payload: Finish is refused
        self.requests: list[tuple[str, str, int | None]] = []  # method, path, content format
        self.finished: Callable[[], None] | None = None
        device.values[Path(0, 0, 0)] = bootstrap_uri
        device.values[Path(0, 0, 1)] = True
        device.values[Path(0, 0, 2)] = 3  # NoSec, or PSK below
        device.instances.setdefault(SECURITY, set()).add(BOOTSTRAP_INSTANCE)

    def handle(self, request: aiocoap.Message) -> aiocoap.Message:
        """A request from the bootstrap server: Delete, Discover, Write or Finish."""
        segments = tuple(request.opt.uri_path)
        self.requests.append(
            (str(request.code), "/" + "/".join(segments), request.opt.content_format)
        )
        if segments == ("bs",) and request.code == Code.POST:
            return self._finish()
        path = Path.parse("/".join(segments)) if segments else Path()
        if request.code == Code.DELETE:
            return self._delete(path)
        if request.code == Code.GET and request.opt.accept == ContentFormat.LINK_FORMAT:
            return self._discover(path)
        if request.code == Code.PUT and path.level in (PathLevel.INSTANCE, PathLevel.RESOURCE):
            return self._write(path, request)
        return aiocoap.Message(code=Code.METHOD_NOT_ALLOWED)

    def _is_bootstrap_account(self, oid: int, iid: int) -> bool:
        return oid == SECURITY and self.device.values.get(Path(0, iid, 1)) is True

    def _delete(self, path: Path) -> aiocoap.Message:
        objects = (SECURITY, SERVER) if path.object_id is None else (path.object_id,)
        for oid in objects:
            for iid in sorted(self.device.instances.get(oid, set())):
                if path.instance_id not in (None, iid) or self._is_bootstrap_account(oid, iid):
                    continue
                for stored in [p for p in self.device.values if p.ids[:2] == (oid, iid)]:
                    del self.device.values[stored]
                self.device.instances[oid].discard(iid)
        return aiocoap.Message(code=Code.DELETED)

    def _discover(self, path: Path) -> aiocoap.Message:
        links = ['lwm2m="1.1"']
        for oid in (SECURITY, SERVER):
            if path.object_id not in (None, oid):
                continue
            for iid in sorted(self.device.instances.get(oid, set())):
                link = f"</{oid}/{iid}>"
                ssid = self.device.values.get(Path(oid, iid, 10 if oid == SECURITY else 0))
                if isinstance(ssid, int) and not self._is_bootstrap_account(oid, iid):
                    link += f";ssid={ssid}"
                links.append(link)
        return aiocoap.Message(
            code=Code.CONTENT, payload=",".join(links).encode(), content_format=40
        )

    def _write(self, path: Path, request: aiocoap.Message) -> aiocoap.Message:
        fmt = request.opt.content_format
        if fmt is None:
            return aiocoap.Message(code=Code.UNSUPPORTED_CONTENT_FORMAT)
        records: Sequence[Record] = decode(request.payload, fmt, path, self.types)
        oid, iid = path.object_id or 0, path.instance_id or 0
        if path.level is PathLevel.INSTANCE:  # replaces the instance (Bootstrap-Write)
            for stored in [p for p in self.device.values if p.ids[:2] == (oid, iid)]:
                del self.device.values[stored]
        for record in records:
            self.device.values[record.path] = record.value
        self.device.instances.setdefault(oid, set()).add(iid)
        return aiocoap.Message(code=Code.CHANGED)

    def account(self) -> ServerAccount | None:
        """The LwM2M server account (a Security instance that is not the bootstrap one, and
        the Server instance with its short server id)."""
        values = self.device.values
        for iid in sorted(self.device.instances.get(SECURITY, set())):
            if self._is_bootstrap_account(SECURITY, iid):
                continue
            ssid = values.get(Path(0, iid, 10))
            server = next(
                (s for s in self.device.instances.get(SERVER, set())
                 if values.get(Path(1, s, 0)) == ssid),
                None,
            )  # fmt: skip
            uri = values.get(Path(0, iid, 0))
            if server is None or not isinstance(uri, str):
                return None
            psk = None
            if values.get(Path(0, iid, 2)) == 0:
                identity, key = values.get(Path(0, iid, 3)), values.get(Path(0, iid, 5))
                if not isinstance(identity, bytes) or not isinstance(key, bytes):
                    return None
                psk = (identity.decode(), key)
            lifetime = values.get(Path(1, server, 1))
            binding = values.get(Path(1, server, 7))
            return ServerAccount(
                uri,
                psk,
                lifetime if isinstance(lifetime, int) else 300,
                binding if isinstance(binding, str) else "U",
            )
        return None

    def _finish(self) -> aiocoap.Message:
        if self.refuse_finish is not None:
            return aiocoap.Message(code=Code.NOT_ACCEPTABLE, payload=self.refuse_finish.encode())
        if self.account() is None:
            return aiocoap.Message(
                code=Code.NOT_ACCEPTABLE, payload=b"no consistent LwM2M server account"
            )
        if self.finished is not None:
            self.finished()
        return aiocoap.Message(code=Code.CHANGED)
