"""Firmware updates: one update entity per device with object 5, driven by the gateway."""

from __future__ import annotations

import asyncio
from typing import Any

from homeassistant.components.update import UpdateEntity, UpdateEntityFeature
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .discovery import DiscoveredValue, discover
from .entity import LwM2MEntity
from .models import LwM2MConfigEntry, LwM2MRuntime
from .platform import async_setup_platform

ACTIVE = ("downloading", "downloaded", "updating")
INSTALL_TIMEOUT = 3600.0  # a slow link can take long; the gateway's own timeouts end it sooner


PARALLEL_UPDATES = 0  # the gateway queues and orders requests per device itself


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    async_setup_platform(entry, Platform.UPDATE, LwM2MUpdate, async_add_entities, discover)


class LwM2MUpdate(LwM2MEntity, UpdateEntity):
    def __init__(self, runtime: LwM2MRuntime, value: DiscoveredValue) -> None:
        super().__init__(runtime, value)
        self._awaited: asyncio.Future[dict[str, Any]] | None = None  # the install's verdict
        self._awaited_job: dict[str, Any] | None = None  # the job the install started

    @property
    def supported_features(self) -> UpdateEntityFeature:
        """Release notes only when the image has some: the dialog waits for them otherwise."""
        features = UpdateEntityFeature.INSTALL | UpdateEntityFeature.PROGRESS
        if self._notes is not None:
            features |= UpdateEntityFeature.RELEASE_NOTES
        return features

    @property
    def _notes(self) -> str | None:
        image = self._available_image
        notes = image.get("release_notes") if image else None
        return notes if isinstance(notes, str) and notes else None

    @property
    def _available_image(self) -> dict[str, Any] | None:
        endpoint = self.endpoint
        image = endpoint.firmware.get("available") if endpoint else None
        return image if isinstance(image, dict) else None

    @property
    def _job(self) -> dict[str, Any] | None:
        endpoint = self.endpoint
        job = endpoint.firmware.get("job") if endpoint else None
        return job if isinstance(job, dict) else None

    @property
    def installed_version(self) -> str | None:
        endpoint = self.endpoint
        if endpoint is None:
            return None
        version = endpoint.firmware_version or endpoint.value("/5/0/7")
        return None if version in (None, "") else str(version)

    @property
    def latest_version(self) -> str | None:
        image = self._available_image
        return str(image["version"]) if image else self.installed_version

    @property
    def release_summary(self) -> str | None:
        notes = self._notes
        return notes[:255] if notes else None

    async def async_release_notes(self) -> str | None:
        return self._notes

    @property
    def in_progress(self) -> bool:
        job = self._job
        return job is not None and job.get("status") in ACTIVE

    @property
    def update_percentage(self) -> int | None:
        job = self._job
        if job is None or job.get("status") not in ACTIVE:
            return None
        percent = job.get("percent")
        return int(percent) if isinstance(percent, int | float) else None

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        job = self._job
        if job is None:
            return None
        return {"last_status": job.get("status"), "last_message": job.get("message") or None}

    @callback
    def _changed(self) -> None:
        self._check_awaited()
        super()._changed()

    @callback
    def _check_awaited(self) -> None:
        """Resolve the install's wait once *its* job ended: the one before it has ended too,
        and is still what the gateway reports until the new job's first progress."""
        job, awaited, started = self._job, self._awaited, self._awaited_job
        if awaited is None or awaited.done() or job is None or started is None:
            return
        same = all(job.get(key) == started.get(key) for key in ("image_id", "started_at"))
        if same and job.get("status") not in ACTIVE:
            awaited.set_result(job)

    async def async_install(self, version: str | None, backup: bool, **kwargs: Any) -> None:
        """Start the update on the gateway and wait for the device's verdict, so a failure the
        device reports reaches the user as the error of this action."""
        image = self._available_image
        if image is None:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="no_firmware",
                translation_placeholders={"endpoint": self.discovered.endpoint},
            )  # fmt: skip
        self._awaited, self._awaited_job = self.hass.loop.create_future(), None
        try:
            self._awaited_job = await self.command("firmware_update", image_id=image["image_id"])
            self._check_awaited()  # a quick device may have finished already
            job = await asyncio.wait_for(self._awaited, INSTALL_TIMEOUT)
        except TimeoutError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="firmware_timeout",
                translation_placeholders={"endpoint": self.discovered.endpoint},
            ) from err  # fmt: skip
        finally:
            self._awaited = None
        if job.get("status") != "succeeded":
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="firmware_failed",
                translation_placeholders={
                    "endpoint": self.discovered.endpoint,
                    "message": str(job.get("message") or job.get("status")),
                },
            )  # fmt: skip
