"""The bootstrap server (LwM2M 1.1 core §6.1, transport §6.1): a device that knows only the
gateway's address asks `POST /bs?ep=<name>[&pct=<format>]` and is given the gateway's own LwM2M
server account; it then registers with what it was given.

Sequence after the 2.04: Bootstrap-Delete of /0 and /1 (the client keeps its bootstrap account),
Bootstrap-Discover of /0 on 1.1+ clients (to place the new Security instance beside the
bootstrap one), Bootstrap-Write of a Security instance (server URI, security mode, PSK identity
and key, short server id) and a Server instance (lifetime, binding, notification storing), and
Bootstrap-Finish. TLV for 1.0 clients; for 1.1+ the client's preferred format (`pct`) first,
moving on after 4.06/4.15. An endpoint with credentials is given `coaps://` and the same PSK
identity and key (and must bootstrap over DTLS with them); one without is given `coap://`, only
as far as the `unknown_endpoints` policy lets it in (under `approve` it waits as pending, and is
provisioned once approved). A bootstrap is idempotent: the same account every time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import aiocoap
from aiocoap.numbers.codes import Code

from ..coap import OutgoingRequest, host_of, wait_response
from ..lwm2m.codecs import ContentFormat, encode
from ..lwm2m.errors import BadRequest, DeviceError, Forbidden, Lwm2mError, raise_for_code
from ..lwm2m.links import parse_link_format
from ..lwm2m.model import ObjectRegistry
from ..lwm2m.paths import InvalidPath, Path
from ..lwm2m.registration import MAX_ENDPOINT_LENGTH, validate_binding
from ..lwm2m.values import Record
from .admission import Admission
from .config import ServerConfig
from .dtls import identity_of
from .events import EventBus, ServerEvent
from .persistence import SettingStore
from .requests import RETRY_CODES
from .security import Security
from .tasks import BackgroundTasks
from .transport import CoapTransport

_LOGGER = logging.getLogger(__name__)
CONFIG_KEY = "bootstrap.config"
SHORT_SERVER_ID = 1
SECURITY_MODE_PSK, SECURITY_MODE_NOSEC = 0, 3
LWM2M_VERSION_PREFIX = re.compile(r'^\s*lwm2m="?[0-9.]+"?\s*(,|$)')
DEFAULTS: dict[str, Any] = {"lifetime": 300, "binding": "U", "notification_storing": True}
# the formats a Bootstrap-Write may take, best first, when the client names none it prefers
WRITE_FORMATS = (ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.TLV)


class BootstrapFailed(Lwm2mError):
    error_code = "bootstrap_failed"

    def __init__(self, endpoint: str, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}", endpoint=endpoint)
        self.step = step
        self.reason = reason


class BootstrapServer:
    def __init__(
        self,
        config: ServerConfig,
        *,
        transport: CoapTransport,
        security: Security,
        admission: Admission,
        store: SettingStore,
        events: EventBus,
        tasks: BackgroundTasks,
        registry: ObjectRegistry,
    ) -> None:
        self._config = config
        self._transport = transport
        self._security = security
        self._admission = admission
        self._store = store
        self._events = events
        self._tasks = tasks
        self._registry = registry
        raw = store.get_meta(CONFIG_KEY)
        self._overrides: dict[str, dict[str, Any]] = json.loads(raw) if raw else {}
        self._waiting: dict[str, tuple[Any, int | None]] = {}  # pending approval
        self._running: dict[str, asyncio.Task[Any]] = {}
        transport.route("bs", self.handle)
        events.subscribe(self._on_event)

    # --- per-endpoint settings ---------------------------------------------------------------

    def set_config(self, endpoint: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Override what an endpoint is given (lifetime, binding, notification_storing)."""
        merged = {**DEFAULTS, **self._overrides.get(endpoint, {}), **settings}
        if not isinstance(merged["lifetime"], int) or merged["lifetime"] < 1:
            raise BadRequest("lifetime: a positive number of seconds")
        validate_binding(str(merged["binding"]), "1.1")  # BadRequest naming the binding
        self._overrides[endpoint] = {k: merged[k] for k in DEFAULTS}
        self._store.set_meta(CONFIG_KEY, json.dumps(self._overrides))
        return self.config_of(endpoint)

    def config_of(self, endpoint: str) -> dict[str, Any]:
        return {"endpoint": endpoint, **DEFAULTS, **self._overrides.get(endpoint, {})}

    # --- the CoAP side ---------------------------------------------------------------------------

    async def handle(self, request: aiocoap.Message) -> aiocoap.Message:
        """POST /bs: Bootstrap-Request (LwM2M 1.1 core §6.1.3)."""
        if tuple(request.opt.uri_path) != ("bs",):
            return aiocoap.Message(code=Code.NOT_FOUND, payload=b"no such resource")
        if request.code != Code.POST:
            return aiocoap.Message(code=Code.METHOD_NOT_ALLOWED)
        params = dict(q.partition("=")[::2] for q in request.opt.uri_query)
        endpoint = params.get("ep", "")
        if not endpoint or len(endpoint) > MAX_ENDPOINT_LENGTH or not endpoint.isprintable():
            raise BadRequest("Bootstrap-Request needs the endpoint name: ep=<name>")
        preferred = params.get("pct")
        if preferred is not None and not preferred.isdigit():
            raise BadRequest(f"pct={preferred!r} is not a content format number")
        remote = request.remote
        self._admission.limit_rate(host_of(remote.hostinfo))
        try:
            self._security.check(endpoint, remote)
        except Forbidden as err:
            self._admission.quiet.warn(f"bs:{endpoint}", "Refused bootstrap of %s from %s: %s",
                                       endpoint, remote.hostinfo, err)  # fmt: skip
            raise
        known = self._security.credential(endpoint) is not None
        pct = int(preferred) if preferred is not None else None
        if not self._admission.admits(endpoint, known):
            self._waiting[endpoint] = (remote, pct)
            self._admission.hold_bootstrap(endpoint, remote.hostinfo, identity_of(remote))
            return aiocoap.Message(code=Code.CHANGED)
        self._start(endpoint, remote, pct)
        return aiocoap.Message(code=Code.CHANGED)

    def _start(self, endpoint: str, remote: Any, pct: int | None) -> None:
        if (running := self._running.get(endpoint)) is not None and not running.done():
            running.cancel()  # the device asked again: start over
        self._running[endpoint] = self._tasks.spawn(self._provision(endpoint, remote, pct))

    def _on_event(self, event: ServerEvent) -> None:
        if event.name == "endpoint_approved" and event.endpoint in self._waiting:
            remote, pct = self._waiting.pop(event.endpoint)
            self._start(event.endpoint, remote, pct)
        elif event.name == "endpoint_rejected":
            self._waiting.pop(event.endpoint, None)

    # --- provisioning --------------------------------------------------------------------------

    def account(self, endpoint: str, local_host: str) -> tuple[list[Record], list[Record], str]:
        """The Security and Server instance resources (at instance 0, placed later) and the
        server URI an endpoint is given."""
        credential = self._security.credential(endpoint)
        host = self._config.public_host or local_host
        host = f"[{host}]" if ":" in host else host
        settings = self.config_of(endpoint)
        if credential is not None:
            uri = f"coaps://{host}:{self._transport.secure_port}"
            mode, identity, key = SECURITY_MODE_PSK, credential.identity.encode(), credential.key
        else:
            uri = f"coap://{host}:{self._transport.port}"
            mode, identity, key = SECURITY_MODE_NOSEC, b"", b""
        security = [
            Record(Path(0, 0, 0), uri),
            Record(Path(0, 0, 1), False),
            Record(Path(0, 0, 2), mode),
            Record(Path(0, 0, 3), identity),
            Record(Path(0, 0, 4), b""),
            Record(Path(0, 0, 5), key),
            Record(Path(0, 0, 10), SHORT_SERVER_ID),
        ]
        server = [
            Record(Path(1, 0, 0), SHORT_SERVER_ID),
            Record(Path(1, 0, 1), int(settings["lifetime"])),
            Record(Path(1, 0, 6), bool(settings["notification_storing"])),
            Record(Path(1, 0, 7), str(settings["binding"])),
        ]
        return security, server, uri

    async def _provision(self, endpoint: str, remote: Any, pct: int | None) -> None:
        await asyncio.sleep(0.05)  # let the 2.04 leave first
        step = "delete"
        try:
            for oid in (0, 1):
                await self._request(endpoint, remote, Code.DELETE, Path(oid), ok=(Code.DELETED,))
            step = "discover"
            taken = await self._discover(endpoint, remote, pct)
            security_iid = next(i for i in range(65535) if i not in taken.get(0, set()))
            server_iid = next(i for i in range(65535) if i not in taken.get(1, set()))
            local = host_of(getattr(remote, "hostinfo_local", "") or self._config.host)
            security, server, uri = self.account(endpoint, local)
            step = "write"
            formats = self._formats(pct)
            await self._write(endpoint, remote, Path(0, security_iid), security, formats)
            await self._write(endpoint, remote, Path(1, server_iid), server, formats)
            step = "finish"
            response = await self._request(endpoint, remote, Code.POST, None)
            if response.code != Code.CHANGED:
                message = response.payload.decode("utf-8", "replace") or str(response.code)
                raise BootstrapFailed(
                    endpoint, step, f"the device answered {response.code}: {message}"
                )
        except BootstrapFailed as err:
            self._failed(err)
            return
        except Lwm2mError as err:
            self._failed(BootstrapFailed(endpoint, step, str(err)))
            return
        mode = "psk" if self._security.credential(endpoint) is not None else "nosec"
        _LOGGER.info("Bootstrapped %s (%s, %s)", endpoint, mode, uri)
        self._events.emit(
            "endpoint_bootstrapped",
            endpoint,
            {"endpoint": endpoint, "security": mode, "server_uri": uri},
        )

    def _failed(self, err: BootstrapFailed) -> None:
        endpoint = err.endpoint or ""
        _LOGGER.warning("Bootstrap of %s failed at %s: %s", endpoint, err.step, err.reason)
        self._events.emit(
            "bootstrap_failed",
            endpoint,
            {"endpoint": endpoint, "step": err.step, "reason": err.reason},
        )

    @staticmethod
    def _formats(pct: int | None) -> list[int]:
        if pct is None:  # a 1.0 client names none: TLV (1.0 core §6.1.7.3)
            return [ContentFormat.TLV]
        return [pct, *[f for f in WRITE_FORMATS if f != pct]]

    async def _discover(self, endpoint: str, remote: Any, pct: int | None) -> dict[int, set[int]]:
        """Bootstrap-Discover /0 (1.1+): which instances the client kept (its bootstrap account)."""
        taken: dict[int, set[int]] = {}
        if pct is None:
            taken[0] = {0}  # a 1.0 client: its bootstrap account is conventionally instance 0
            return taken
        response = await self._request(
            endpoint, remote, Code.GET, Path(0), accept=ContentFormat.LINK_FORMAT
        )
        if response.code != Code.CONTENT:
            taken[0] = {0}
            return taken
        # the answer opens with the client's version, `lwm2m="1.1",</0/0>,...` (1.1 core §5.2.7.3)
        text = LWM2M_VERSION_PREFIX.sub("", response.payload.decode("utf-8", "replace"), count=1)
        for link in parse_link_format(text):
            try:
                path = Path.parse(link.target)
            except InvalidPath:
                continue
            if path.object_id is not None and path.instance_id is not None:
                taken.setdefault(path.object_id, set()).add(path.instance_id)
        return taken

    async def _write(
        self, endpoint: str, remote: Any, instance: Path, records: list[Record], formats: list[int]
    ) -> None:
        oid, iid = instance.object_id or 0, instance.instance_id or 0
        placed = [Record(Path(oid, iid, r.path.resource_id), r.value) for r in records]
        types = self._registry.type_resolver({})
        last: aiocoap.Message | None = None
        for fmt in formats:
            payload = encode(placed, fmt, instance, types)
            last = await self._request(
                endpoint, remote, Code.PUT, instance, payload=payload, content_format=fmt
            )
            if last.code not in RETRY_CODES:
                raise_for_code(last.code, last.payload, endpoint=endpoint, path=str(instance))
                return
        assert last is not None
        raise DeviceError(
            last.code, f"no content format accepted among {formats}", endpoint=endpoint
        )

    async def _request(
        self,
        endpoint: str,
        remote: Any,
        code: Code,
        path: Path | None,
        ok: tuple[Code, ...] | None = None,
        **options: Any,
    ) -> aiocoap.Message:
        uri_path = ("bs",) if path is None else tuple(str(i) for i in path.ids)
        message = OutgoingRequest(code=code, uri_path=uri_path, **options)
        message.remote = remote
        try:
            # never cancels aiocoap's future on a timeout (coap.wait_response says why)
            response = await wait_response(
                self._transport.request(message), self._config.request_timeout
            )
        except TimeoutError:
            raise Lwm2mError(
                f"{endpoint} did not answer within {self._config.request_timeout:g} s"
            ) from None
        except aiocoap.error.Error as err:
            raise Lwm2mError(f"{endpoint} unreachable: {err}") from err
        if ok is not None and response.code not in ok:
            raise_for_code(response.code, response.payload, endpoint=endpoint, path=str(path))
        return response
