"""Firmware images the gateway holds: files under `<data dir>/firmware/`, their catalogue in the
store, so both survive a restart. firmware_updates.py serves them at `/fw/<id>`."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
import stat
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path as FilePath
from typing import Any

from ..lwm2m.errors import BadRequest, Lwm2mError
from .persistence import SettingStore

_LOGGER = logging.getLogger(__name__)
CATALOGUE_KEY = "firmware.images"
MAX_IMAGE_BYTES = 64 * 1024 * 1024


class FirmwareError(Lwm2mError):
    error_code = "firmware_error"


class UnknownImage(FirmwareError):
    error_code = "unknown_image"


@dataclass(frozen=True, slots=True)
class FirmwareImage:
    """One image and what it targets: endpoints by name, or object 3 manufacturer/model."""

    image_id: str  # the first 16 hex digits of its SHA-256: stable, and safe in a URI
    version: str
    size: int
    sha256: str
    release_notes: str | None = None
    endpoints: tuple[str, ...] = ()
    manufacturer: str | None = None
    model: str | None = None
    added_at: float = field(default_factory=time.time)

    def targets(self, endpoint: str, manufacturer: str | None, model: str | None) -> bool:
        if self.endpoints:
            return endpoint in self.endpoints
        if self.manufacturer is None and self.model is None:
            return False  # an image for nobody in particular is offered to nobody
        return (self.manufacturer in (None, manufacturer)) and (self.model in (None, model))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["endpoints"] = list(self.endpoints)
        return out


def _read_image(source: FilePath, import_dir: FilePath) -> bytes:
    root = import_dir.resolve()
    try:
        resolved = (root / source).resolve(strict=True)
    except (OSError, RuntimeError) as err:
        raise BadRequest(f"file: cannot read {source}: not found in {root}") from err
    if not resolved.is_relative_to(root):
        raise BadRequest(f"file: {source} is outside the firmware directory {root}")
    try:
        fd = os.open(resolved, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError as err:
        raise BadRequest(f"file: cannot open {source}: {err.strerror}") from err
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise BadRequest(f"file: {source} is not a regular file")
        if info.st_size > MAX_IMAGE_BYTES:
            raise BadRequest(f"file: {source} is {info.st_size} bytes, over {MAX_IMAGE_BYTES}")
        return file.read(MAX_IMAGE_BYTES + 1)


class FirmwareCatalogue:
    """The images under `<data dir>/firmware`, indexed in the store's meta table."""

    def __init__(self, store: SettingStore, data_dir: FilePath) -> None:
        self._store = store
        self._dir = data_dir / "firmware"
        self._dir.mkdir(parents=True, exist_ok=True)
        self._images: dict[str, FirmwareImage] = {}
        raw = store.get_meta(CATALOGUE_KEY)
        for item in json.loads(raw) if raw else []:
            try:
                image = FirmwareImage(**{**item, "endpoints": tuple(item.get("endpoints", ()))})
            except TypeError:
                _LOGGER.warning("Skipping an unreadable firmware catalogue entry: %r", item)
                continue
            if self.path(image.image_id).is_file():
                self._images[image.image_id] = image
            else:
                _LOGGER.warning("Firmware image %s is missing its file", image.image_id)

    def path(self, image_id: str) -> FilePath:
        return self._dir / f"{image_id}.bin"

    def images(self) -> list[FirmwareImage]:
        return sorted(self._images.values(), key=lambda image: image.added_at)

    def get(self, image_id: str) -> FirmwareImage:
        try:
            return self._images[image_id]
        except KeyError:
            raise UnknownImage(f"no firmware image {image_id!r}") from None

    def add(
        self,
        data: bytes,
        *,
        version: str,
        release_notes: str | None = None,
        endpoints: Sequence[str] = (),
        manufacturer: str | None = None,
        model: str | None = None,
    ) -> FirmwareImage:
        if not data:
            raise BadRequest("firmware image is empty")
        if len(data) > MAX_IMAGE_BYTES:
            raise BadRequest(f"firmware image is {len(data)} bytes, over {MAX_IMAGE_BYTES}")
        if not version.strip():
            raise BadRequest("firmware version must not be empty")
        digest = hashlib.sha256(data).hexdigest()
        image = FirmwareImage(
            image_id=secrets.token_hex(8),  # one id per added image, even for the same bytes
            version=version.strip(),
            size=len(data),
            sha256=digest,
            release_notes=release_notes,
            endpoints=tuple(endpoints),
            manufacturer=manufacturer,
            model=model,
        )
        target = self.path(image.image_id)
        partial = target.with_suffix(".part")
        partial.write_bytes(data)
        os.replace(partial, target)  # never a half-written image under its final name
        self._images[image.image_id] = image
        self._save()
        return image

    async def add_file(
        self, source: FilePath, import_dir: FilePath, **kwargs: Any
    ) -> FirmwareImage:
        """Add an image from a regular file inside import_dir (the gateway's firmware directory):
        nothing else on the gateway's disk can be imported and served, and a FIFO or a huge file
        never blocks the event loop (the size is checked first, the read runs in a thread)."""
        data = await asyncio.to_thread(_read_image, source, import_dir)
        return self.add(data, **kwargs)

    def remove(self, image_id: str) -> None:
        self.get(image_id)
        del self._images[image_id]
        self._save()
        self.path(image_id).unlink(missing_ok=True)

    def read(self, image_id: str) -> bytes:
        self.get(image_id)
        return self.path(image_id).read_bytes()

    def image_for(
        self, endpoint: str, manufacturer: str | None, model: str | None
    ) -> FirmwareImage | None:
        """The newest image that targets this device, by endpoint name first."""
        matching = [i for i in self.images() if i.targets(endpoint, manufacturer, model)]
        by_endpoint = [i for i in matching if i.endpoints]
        chosen = by_endpoint or matching
        return chosen[-1] if chosen else None

    def _save(self) -> None:
        self._store.set_meta(
            CATALOGUE_KEY, json.dumps([image.to_json() for image in self.images()])
        )
