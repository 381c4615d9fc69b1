"""What the gateway knows of one endpoint: values, resources seen, wake state; and its API object."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..lwm2m.model import ObjectRegistry
from ..lwm2m.paths import Path, PathLevel
from ..lwm2m.registration import Registration
from ..lwm2m.values import Record, to_json


@dataclass(slots=True)
class EndpointState:
    """A registration plus everything learnt about the device since (cached, and stored)."""

    registration: Registration
    values: dict[Path, tuple[Any, float]] = field(default_factory=dict)  # resource path -> JSON
    resources: set[Path] = field(default_factory=set)  # resource paths seen in Discover or values
    awake_until: float = 0.0
    last_seen: float = field(default_factory=time.time)
    online: bool = True
    formats: dict[str, int] = field(default_factory=dict)  # "read"/"write" -> format that worked
    remote: Any = None  # the DTLS session of a secure registration (requests go over it)
    no_composite: bool = False  # it ignored or refused FETCH/iPATCH: single requests instead
    reachable: bool = True  # False after a request failed with a network error, until it speaks
    pmax: dict[Path, float] = field(default_factory=dict)  # written pmax attributes, by path
    inventoried_at: float | None = None  # the inventory this registration has (None: waiting)
    types: Any = None  # (registration, its type resolver), see RequestSender.types

    # the endpoint name, which an Update never changes (read many times per notification)
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.registration.endpoint

    @property
    def asleep(self) -> bool:
        return self.registration.queue_mode and time.time() >= self.awake_until

    def apply(
        self, records: Iterable[Record], stamp: float | None = None
    ) -> dict[Path, list[tuple[float, Any]]]:
        """Merge records into the value cache. Returns each resource that changed with the
        earlier readings of it in the same payload, oldest first: a sleepy device's batch of
        timestamped records (SenML) keeps its newest as the value and its history beside it."""
        now = time.time() if stamp is None else stamp
        changed: dict[Path, list[tuple[float, Any]]] = {}
        for record in records:
            when = record.time or now
            value = to_json(record.value)
            resource = record.path.resource_path
            if record.path.level is PathLevel.RESOURCE_INSTANCE:
                previous = self.values.get(resource, ({}, when))[0]
                merged = dict(previous) if isinstance(previous, dict) else {}
                merged[str(record.path.resource_instance_id)] = value
                value = merged
            elif resource in changed and record.time is not None:
                kept, kept_at = self.values[resource]
                if when < kept_at:  # an older reading than the one kept: history only
                    changed[resource].append((when, value))
                    continue
                changed[resource].append((kept_at, kept))
            self.values[resource] = (value, when)
            self.resources.add(resource)
            changed.setdefault(resource, [])
        for history in changed.values():
            if len(history) > 1:
                history.sort(key=lambda reading: reading[0])
        return changed

    def forget(self, path: Path) -> None:
        """Drop values and resources at or below path (after a Delete)."""
        self.values = {p: v for p, v in self.values.items() if not path.contains(p)}
        self.resources = {p for p in self.resources if not path.contains(p)}

    def to_json(self, registry: ObjectRegistry) -> dict[str, Any]:
        reg = self.registration
        versions = reg.object_versions()
        instances: dict[int, set[int]] = {oid: set(e.instances) for oid, e in reg.objects.items()}
        by_instance: dict[tuple[int, int], set[int]] = {}
        for path in self.resources:
            oid, iid, rid = path.ids[:3]
            instances.setdefault(oid, set()).add(iid)
            by_instance.setdefault((oid, iid), set()).add(rid)
        objects = []
        for oid in sorted(instances):
            model = registry.get(oid, versions.get(oid))
            instance_list = []
            for iid in sorted(instances[oid]):
                resources = []
                for rid in sorted(by_instance.get((oid, iid), ())):
                    resource_model = model.resources.get(rid) if model else None
                    value, stamp = self.values.get(Path(oid, iid, rid), (None, None))
                    resources.append(
                        {
                            "id": rid,
                            "name": resource_model.name if resource_model else None,
                            "type": resource_model.type.value if resource_model else None,
                            "units": resource_model.units if resource_model else None,
                            "operations": resource_model.operations if resource_model else "",
                            "multiple": resource_model.multiple if resource_model else False,
                            "value": value,
                            "timestamp": stamp,
                        }
                    )
                instance_list.append({"id": iid, "resources": resources})
            objects.append(
                {
                    "id": oid,
                    "version": versions.get(oid, model.version if model else "1.0"),
                    "name": model.name if model else None,
                    "instances": instance_list,
                }
            )
        return {
            "endpoint": reg.endpoint,
            "registration_id": reg.registration_id,
            "lwm2m_version": reg.lwm2m_version,
            "binding": reg.binding,
            "queue_mode": reg.queue_mode,
            "lifetime": reg.lifetime,
            "sms": reg.sms,
            "address": reg.address,
            "root_path": reg.root_path,
            "content_formats": reg.content_formats,
            "online": self.online,
            "reachable": self.reachable,
            "asleep": self.online and self.asleep,
            "registered_at": reg.registered_at,
            "security": reg.security,
            "last_seen": self.last_seen,
            "inventoried_at": self.inventoried_at,
            "objects": objects,
        }
