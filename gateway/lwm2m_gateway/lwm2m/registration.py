"""Registrations: what a Register or Update says, validated (LwM2M 1.1 core §6.2, Transport §6.2).

Pure data and parsing, no I/O: the server feeds it the query, payload and source address of a
request and gets back a Registration or a BadRequest naming exactly what is wrong.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .errors import BadRequest
from .links import parse_link_format
from .paths import InvalidPath, Path

SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2")
DEFAULT_LIFETIME = 86400  # LwM2M 1.1 core §6.2.1: lt defaults to 86400 s
MAX_ENDPOINT_LENGTH = 255


@dataclass(slots=True)
class ObjectEntry:
    """One announced object: its version (`ver=`) and the instances the device listed."""

    version: str | None = None
    instances: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Registration:
    endpoint: str
    registration_id: str
    lifetime: int
    lwm2m_version: str
    binding: str
    queue_mode: bool
    address: str  # host:port, as in a coap:// URI ("[::1]:5683" for IPv6)
    sms: str | None = None
    root_path: str = "/"
    objects: dict[int, ObjectEntry] = field(default_factory=dict)
    content_formats: list[int] = field(default_factory=list)
    registered_at: float = field(default_factory=time.time)
    last_update: float = field(default_factory=time.time)
    security: str = "nosec"  # "psk": registered over a DTLS session
    identity: str | None = None  # the PSK identity of that session

    @property
    def expires_at(self) -> float:
        return self.last_update + self.lifetime

    def object_versions(self) -> dict[int, str]:
        return {oid: entry.version for oid, entry in self.objects.items() if entry.version}

    def uri(self, path: Path) -> str:
        root = self.root_path.rstrip("/")
        scheme = "coap" if self.security == "nosec" else "coaps"
        return f"{scheme}://{self.address}{root}{path if path.level else '/'}"

    def uri_path(self, path: Path) -> tuple[str, ...]:
        """The Uri-Path options of a request to path (under the alternate root path)."""
        root = tuple(p for p in self.root_path.split("/") if p)
        return root + tuple(str(i) for i in path.ids)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["objects"] = {str(oid): asdict(entry) for oid, entry in self.objects.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Registration:
        values = dict(data)
        values["objects"] = {
            int(oid): ObjectEntry(**entry) for oid, entry in data.get("objects", {}).items()
        }
        return cls(**values)


def _query(options: Sequence[str]) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for item in options:
        name, sep, value = item.partition("=")
        params[name] = value if sep else None
    return params


MAX_LIFETIME = 2**32 - 1  # the Server object's Lifetime is a 32-bit unsigned integer


def _ascii_number(value: str | None) -> int | None:
    """A decimal of ASCII digits, short enough to mean something; None otherwise."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    return int(value)


def _lifetime(value: str | None) -> int:
    number = _ascii_number(value)
    if number is None or not 0 < number <= MAX_LIFETIME:
        shown = value if value is None or len(value) <= 20 else value[:20] + "..."
        raise BadRequest(
            f"lt must be a positive number of seconds up to {MAX_LIFETIME}, got {shown!r}"
        )
    return number


def _binding(value: str | None, version: str) -> str:
    if not value:
        raise BadRequest("b must name a binding, e.g. b=U")
    allowed = "UQS" if version == "1.0" else "UQSTN"
    if any(c not in allowed for c in value) or len(set(value)) != len(value):
        raise BadRequest(f"b={value!r} is not a binding of LwM2M {version} ({allowed})")
    return value


def validate_binding(value: str, version: str) -> str:
    """A binding (b=) valid for that LwM2M version, or BadRequest naming what is allowed."""
    return _binding(value, version)


def _parse_links(payload: bytes) -> tuple[str, list[int], dict[int, ObjectEntry]]:
    """Root path, content formats and objects from a Register/Update payload (§6.2.1.1)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequest("registration payload is not UTF-8 link format") from err
    links = parse_link_format(text)
    root, formats = "/", []
    for link in links:
        # the root link carries the formats: `</>;rt="oma.lwm2m";ct=...`, or from 1.0 clients
        # just `</>;ct=11543`
        is_root = link.params.get("rt") == "oma.lwm2m" or (
            link.target == "/" and "ct" in link.params
        )
        if is_root:
            root = link.target.rstrip("/") or "/"
            raw = link.params.get("ct") or ""
            for token in raw.replace('"', " ").split():
                number = _ascii_number(token)
                if number is None or number > 65535:
                    raise BadRequest(f"ct={raw!r} on <{link.target}> is not a list of numbers")
                formats.append(number)
    prefix = "" if root == "/" else root
    objects: dict[int, ObjectEntry] = {}
    for link in links:
        if link.params.get("rt") == "oma.lwm2m" or link.target in ("/", root):
            continue
        target = link.target
        if prefix and target.startswith(prefix + "/"):
            target = target[len(prefix) :]
        try:
            path = Path.parse(target)
        except InvalidPath as err:
            raise BadRequest(f"<{link.target}> is not an object or instance link: {err}") from err
        if path.object_id is None or path.resource_id is not None:
            raise BadRequest(f"<{link.target}> is not an object or instance link")
        entry = objects.setdefault(path.object_id, ObjectEntry())
        if (version := link.params.get("ver")) is not None:
            entry.version = version
        if path.instance_id is not None and path.instance_id not in entry.instances:
            entry.instances.append(path.instance_id)
    return root, formats, objects


def parse_register(query: Sequence[str], payload: bytes, address: str) -> Registration:
    """A Register request (POST /rd?ep=...&lt=...) as a new Registration."""
    params = _query(query)
    endpoint = params.get("ep")
    if not endpoint:
        raise BadRequest("Register needs the endpoint name: ep=<name>")
    if len(endpoint) > MAX_ENDPOINT_LENGTH or not endpoint.isprintable():
        raise BadRequest(f"ep must be printable and at most {MAX_ENDPOINT_LENGTH} characters")
    version = params.get("lwm2m") or "1.0"
    if version.count(".") == 2 and version.endswith(".0"):
        version = version[:-2]  # "1.0.0", as some 1.0 clients write it
    if version not in SUPPORTED_VERSIONS:
        raise BadRequest(f"lwm2m={version} is not supported ({', '.join(SUPPORTED_VERSIONS)})")
    lifetime = _lifetime(params["lt"]) if "lt" in params else DEFAULT_LIFETIME
    binding = _binding(params["b"], version) if "b" in params else "U"
    queue_mode = "Q" in binding or "Q" in params
    root, formats, objects = _parse_links(payload)
    return Registration(
        endpoint=endpoint,
        registration_id=secrets.token_hex(8),  # 64 random bits: not guessable off-path
        lifetime=lifetime,
        lwm2m_version=version,
        binding=binding,
        queue_mode=queue_mode,
        address=address,
        sms=params.get("sms"),
        root_path=root,
        objects=objects,
        content_formats=formats,
    )


def updated_registration(
    registration: Registration, query: Sequence[str], payload: bytes, address: str
) -> tuple[Registration, bool]:
    """An Update (POST /rd/<id>) applied to a copy: the original is untouched, so a rejected
    Update changes nothing. Also returns whether the object links changed."""
    params = _query(query)
    unknown = set(params) - {"lt", "b", "sms", "Q"}
    if unknown:
        raise BadRequest(f"Update does not take {', '.join(sorted(unknown))}")
    lifetime = _lifetime(params["lt"]) if "lt" in params else registration.lifetime
    binding, queue_mode = registration.binding, registration.queue_mode
    if "b" in params:
        binding = _binding(params["b"], registration.lwm2m_version)
        queue_mode = "Q" in binding or "Q" in params
    root, formats, objects = registration.root_path, registration.content_formats, None
    if payload:
        root, new_formats, objects = _parse_links(payload)
        formats = new_formats or formats
    changed = objects is not None and (
        objects != registration.objects or root != registration.root_path
    )
    return replace(
        registration,
        lifetime=lifetime,
        binding=binding,
        queue_mode=queue_mode,
        sms=params.get("sms", registration.sms),
        address=address,
        last_update=time.time(),
        root_path=root,
        objects=registration.objects.copy() if objects is None else objects,
        content_formats=list(formats),
    ), changed
