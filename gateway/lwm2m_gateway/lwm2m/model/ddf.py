"""Parse OMA DDF XML (the LwM2M registry's object definitions) into compact model classes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..values import ResourceType


class ModelError(ValueError):
    """A DDF file or model entry that cannot be used; the message names the file and element."""


_TYPES = {
    "": ResourceType.NONE,
    "string": ResourceType.STRING,
    "integer": ResourceType.INTEGER,
    "unsigned integer": ResourceType.UNSIGNED_INTEGER,
    "float": ResourceType.FLOAT,
    "boolean": ResourceType.BOOLEAN,
    "opaque": ResourceType.OPAQUE,
    "time": ResourceType.TIME,
    "objlnk": ResourceType.OBJLNK,
    "corelnk": ResourceType.CORELNK,
}
_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:\.\.|\.\.\.)\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True, slots=True)
class ResourceModel:
    id: int
    name: str
    operations: str  # "R", "W", "RW", "E" or ""
    multiple: bool
    mandatory: bool
    type: ResourceType
    range_min: float | None = None
    range_max: float | None = None
    range_text: str | None = None
    units: str | None = None
    description: str = ""

    @property
    def readable(self) -> bool:
        return "R" in self.operations

    @property
    def writable(self) -> bool:
        return "W" in self.operations

    @property
    def executable(self) -> bool:
        return self.operations == "E"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type.value,
            "units": self.units,
            "operations": self.operations,
            "multiple": self.multiple,
            "mandatory": self.mandatory,
            "range": self.range_text,
            "range_min": self.range_min,
            "range_max": self.range_max,
            "description": self.description,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResourceModel:
        return cls(
            id=int(data["id"]),
            name=str(data["name"]),
            operations=str(data["operations"]),
            multiple=bool(data["multiple"]),
            mandatory=bool(data["mandatory"]),
            type=ResourceType(data["type"]),
            range_min=data.get("range_min"),
            range_max=data.get("range_max"),
            range_text=data.get("range"),
            units=data.get("units"),
            description=str(data.get("description", "")),
        )


@dataclass(frozen=True, slots=True)
class ObjectModel:
    id: int
    name: str
    version: str
    lwm2m_version: str
    urn: str
    multiple: bool
    mandatory: bool
    description: str = ""
    resources: Mapping[int, ResourceModel] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "lwm2m_version": self.lwm2m_version,
            "urn": self.urn,
            "multiple": self.multiple,
            "mandatory": self.mandatory,
            "description": self.description,
            "resources": [r.to_json() for _, r in sorted(self.resources.items())],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ObjectModel:
        resources = [ResourceModel.from_json(r) for r in data["resources"]]
        return cls(
            id=int(data["id"]),
            name=str(data["name"]),
            version=str(data["version"]),
            lwm2m_version=str(data["lwm2m_version"]),
            urn=str(data["urn"]),
            multiple=bool(data["multiple"]),
            mandatory=bool(data["mandatory"]),
            description=str(data.get("description", "")),
            resources={r.id: r for r in resources},
        )


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    sentence = match.group(1) if match else text
    return sentence[:300]


def _text(element: ET.Element, tag: str, source: str, *, required: bool = True) -> str:
    found = element.find(tag)
    if found is None:
        if required:
            raise ModelError(f"{source}: <{element.tag}> has no <{tag}>")
        return ""
    return (found.text or "").strip()


def _int(value: str, what: str, source: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise ModelError(f"{source}: {what} {value!r} is not a number")
    return int(value)


def _resource(item: ET.Element, source: str) -> ResourceModel:
    rid = _int((item.get("ID") or "").strip(), "resource ID", source)
    where = f"{source}: resource {rid}"
    type_text = _text(item, "Type", where, required=False).lower()
    if type_text not in _TYPES:
        raise ModelError(f"{where}: unknown <Type> {type_text!r}")
    operations = _text(item, "Operations", where).upper()
    if operations not in ("", "R", "W", "RW", "E"):
        raise ModelError(f"{where}: unknown <Operations> {operations!r}")
    range_text = _text(item, "RangeEnumeration", where, required=False) or None
    low = high = None
    if range_text and (match := _RANGE.match(range_text)):
        low, high = float(match.group(1)), float(match.group(2))
    return ResourceModel(
        id=rid,
        name=_text(item, "Name", where),
        operations=operations,
        multiple=_text(item, "MultipleInstances", where).lower() == "multiple",
        mandatory=_text(item, "Mandatory", where).lower() == "mandatory",
        type=ResourceType.NONE if operations == "E" and not type_text else _TYPES[type_text],
        range_min=low,
        range_max=high,
        range_text=range_text,
        units=_text(item, "Units", where, required=False) or None,
        description=_first_sentence(_text(item, "Description", where, required=False)),
    )


def parse_ddf(data: bytes, source: str) -> ObjectModel:
    """Parse one DDF document; `source` (a file name) is named in every error."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise ModelError(f"{source}: not well-formed XML: {err}") from err
    obj = root.find("Object")
    if obj is None:
        raise ModelError(f"{source}: no <Object> element")
    oid = _int(_text(obj, "ObjectID", source), "ObjectID", source)
    where = f"{source}: object {oid}"
    resources_element = obj.find("Resources")
    items = [] if resources_element is None else resources_element.findall("Item")
    resources = {r.id: r for r in (_resource(item, where) for item in items)}
    return ObjectModel(
        id=oid,
        name=_text(obj, "Name", where),
        version=_text(obj, "ObjectVersion", where, required=False) or "1.0",
        lwm2m_version=_text(obj, "LWM2MVersion", where, required=False) or "1.0",
        urn=_text(obj, "ObjectURN", where, required=False),
        multiple=_text(obj, "MultipleInstances", where).lower() == "multiple",
        mandatory=_text(obj, "Mandatory", where).lower() == "mandatory",
        description=_first_sentence(_text(obj, "Description1", where, required=False)),
        resources=resources,
    )


def license_header(data: bytes) -> str | None:
    """The comment at the top of a DDF file (the OMA BSD-3 license), kept with derived data."""
    match = re.search(rb"<!--(.*?)-->", data, re.S)
    return match.group(1).decode("utf-8", "replace").strip() if match else None
