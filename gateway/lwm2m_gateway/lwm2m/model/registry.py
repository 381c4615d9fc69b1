"""ObjectRegistry: every known object model by id and version, builtin plus user DDF files."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path as FilePath
from typing import Any

from ..paths import Path
from ..values import ResourceType
from .ddf import ModelError, ObjectModel, ResourceModel, parse_ddf

_LOGGER = logging.getLogger(__name__)
TYPE_CACHE = 65536  # resource types kept looked up, at most


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (0,)


@functools.cache
def _builtin_models() -> tuple[ObjectModel, ...]:
    text = resources.files(__package__).joinpath("objects.json").read_text("utf-8")
    return tuple(ObjectModel.from_json(item) for item in json.loads(text)["objects"])


class ObjectRegistry:
    """Object models keyed by id, each with the versions known (registry files and user files)."""

    def __init__(self, models: tuple[ObjectModel, ...] = ()) -> None:
        self._models: dict[int, dict[str, ObjectModel]] = {}
        # (object, resource, version) -> its type: asked for each value of each notification
        self._types: dict[tuple[int, int, str | None], ResourceType | None] = {}
        for model in models:
            self.add(model)

    @classmethod
    def builtin(cls) -> ObjectRegistry:
        """The OMA registry's objects shipped with the gateway (see scripts/generate_model.py)."""
        return cls(_builtin_models())

    def add(self, model: ObjectModel) -> None:
        self._models.setdefault(model.id, {})[model.version] = model
        self._types.clear()

    def load_ddf_file(self, path: FilePath) -> ObjectModel:
        try:
            data = path.read_bytes()
        except OSError as err:
            raise ModelError(f"{path}: cannot read: {err.strerror}") from err
        model = parse_ddf(data, str(path))
        self.add(model)
        return model

    def load_dir(self, directory: FilePath) -> list[ModelError]:
        """Load every *.xml under directory; a bad file is reported and the others still load."""
        errors = []
        for path in sorted(directory.glob("*.xml")):
            try:
                model = self.load_ddf_file(path)
            except ModelError as err:
                _LOGGER.warning("Skipping object definition: %s", err)
                errors.append(err)
            else:
                _LOGGER.info("Loaded object %s v%s from %s", model.id, model.version, path)
        return errors

    def get(self, object_id: int, version: str | None = None) -> ObjectModel | None:
        """The exact version when known, else the nearest: highest below, then lowest above."""
        versions = self._models.get(object_id)
        if not versions:
            return None
        if version is None:
            return versions[max(versions, key=_version_key)]
        if version in versions:
            return versions[version]
        wanted = _version_key(version)
        below = [v for v in versions if _version_key(v) <= wanted]
        if below:
            return versions[max(below, key=_version_key)]
        return versions[min(versions, key=_version_key)]

    def resource(
        self, object_id: int, resource_id: int, version: str | None = None
    ) -> ResourceModel | None:
        model = self.get(object_id, version)
        return None if model is None else model.resources.get(resource_id)

    def type_resolver(
        self, versions: Mapping[int, str] | None = None
    ) -> Callable[[Path], ResourceType | None]:
        announced = dict(versions or {})
        types = self._types

        def resolve(path: Path) -> ResourceType | None:
            if path.object_id is None or path.resource_id is None:
                return None
            key = (path.object_id, path.resource_id, announced.get(path.object_id))
            if key not in types:
                if len(types) >= TYPE_CACHE:  # versions are the devices' to announce
                    types.clear()
                found = self.resource(*key)
                types[key] = None if found is None else found.type
            return types[key]

        return resolve

    def objects(self) -> list[ObjectModel]:
        return [m for oid in sorted(self._models) if (m := self.get(oid)) is not None]

    def to_json(self, model: ObjectModel) -> dict[str, Any]:
        return model.to_json()
