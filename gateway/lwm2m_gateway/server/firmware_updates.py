"""Firmware update jobs: deliver an image (pull or push), drive object 5's state machine, report.

LwM2M 1.1 core E.6: the device downloads (pull, 5/0/1 Package URI, from the gateway's own
`/fw/<id>` over CoAP block-wise) or receives (push, 5/0/0 Package) the image; when 5/0/3 State
reaches Downloaded the gateway executes 5/0/2 Update; 5/0/5 Update Result says how it ended, and
the device registering again with the image's version in 3/0/3 confirms it. Jobs are stored, so
a gateway restart in the middle picks them up again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import aiocoap
from aiocoap.numbers.codes import Code

from ..coap import host_of
from ..lwm2m.codecs import ContentFormat
from ..lwm2m.errors import Lwm2mError, UnknownEndpoint
from ..lwm2m.firmware import UPDATE_RESULT_MESSAGES, DeliveryMethod, FirmwareState, UpdateResult
from ..lwm2m.paths import Path
from ..lwm2m.values import Record
from .config import REGISTER_SETTLE, FirmwareSettings
from .device_management import DeviceManagement
from .dtls import identity_of
from .events import EventBus, ServerEvent
from .firmware_images import FirmwareCatalogue, FirmwareImage, UnknownImage
from .observations import Observations
from .persistence import SettingStore
from .registrations import Registrations
from .tasks import BackgroundTasks, Timers
from .transport import CoapTransport

_LOGGER = logging.getLogger(__name__)
MANUFACTURER, MODEL = Path(3, 0, 0), Path(3, 0, 1)
JOBS_KEY = "firmware.jobs"
ACTIVE = ("downloading", "downloaded", "updating")
COAP_PROTOCOL = 0  # 5/0/8 Firmware Update Protocol Support: 0 is CoAP


class FirmwareBusy(Lwm2mError):
    error_code = "firmware_busy"


@dataclass
class FirmwareJob:
    endpoint: str
    image_id: str
    version: str
    method: str  # "pull" or "push"
    status: str = "downloading"  # downloading, downloaded, updating, succeeded, failed, cancelled
    bytes_done: int = 0
    total: int = 0
    result: int = 0
    message: str = ""
    started_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FirmwareUpdates:
    def __init__(
        self,
        settings: FirmwareSettings,
        *,
        store: SettingStore,
        transport: CoapTransport,
        registrations: Registrations,
        device: DeviceManagement,
        observations: Observations,
        events: EventBus,
        tasks: BackgroundTasks,
    ) -> None:
        self.settings = settings
        self.catalogue = FirmwareCatalogue(store, settings.data_dir)
        settings.import_dir.mkdir(parents=True, exist_ok=True)
        self._deadlines = Timers()
        self._deadline_of: dict[str, tuple[str, int]] = {}
        self._store = store
        self._transport = transport
        self._registrations = registrations
        self._device = device
        self._observations = observations
        self._events = events
        self._tasks = tasks
        self.jobs: dict[str, FirmwareJob] = {}
        raw = store.get_meta(JOBS_KEY)
        for item in json.loads(raw) if raw else []:
            try:
                job = FirmwareJob(**item)
            except TypeError:
                _LOGGER.warning("Skipping an unreadable stored firmware job: %r", item)
                continue
            self.jobs[job.endpoint] = job
        transport.route("fw", self._serve)
        events.subscribe(self._on_event)

    def available(self, endpoint: str) -> FirmwareImage | None:
        """The image for this endpoint: by name first, else by its object 3 manufacturer/model."""
        state = self._registrations.get(endpoint)
        manufacturer = state.values.get(MANUFACTURER, (None, 0))[0]
        model = state.values.get(MODEL, (None, 0))[0]
        return self.catalogue.image_for(endpoint, manufacturer, model)

    def endpoint_json(self, endpoint: str) -> dict[str, Any]:
        """The "firmware" member of the API's endpoint object (schema 2)."""
        image = self.available(endpoint)
        job = self.jobs.get(endpoint)
        return {
            "available": None if image is None else image.to_json(),
            "job": None if job is None else job.to_json(),
        }

    def images_changed(self) -> None:
        """After an image is added or removed, every endpoint's available image may differ."""
        for name in self._registrations.names():
            self._events.emit("endpoint_updated", name, self._registrations.describe(name))

    def uri(self, image_id: str, endpoint: str) -> str:
        """Where the device fetches the image: over DTLS if it registered over DTLS."""
        registration = self._registrations.get(endpoint).registration
        if registration.security == "psk":
            return (
                f"coaps://{self.settings.public_host}:{self._transport.secure_port}/fw/{image_id}"
            )
        return f"coap://{self.settings.public_host}:{self._transport.port}/fw/{image_id}"

    def _save(self) -> None:
        self._store.set_meta(JOBS_KEY, json.dumps([j.to_json() for j in self.jobs.values()]))

    def _report(self, job: FirmwareJob) -> None:
        self._watch(job)
        self._save()
        percent = round(100 * job.bytes_done / job.total) if job.total else 0
        name = "firmware_result" if job.status not in ACTIVE else "firmware_progress"
        self._events.emit(name, job.endpoint, {**job.to_json(), "percent": percent})

    # --- starting and stopping ------------------------------------------------------------------

    async def start(
        self, endpoint: str, image_id: str | None = None, method: str | None = None
    ) -> FirmwareJob:
        self._registrations.get(endpoint)  # UnknownEndpoint first
        current = self.jobs.get(endpoint)
        if current is not None and current.status in ACTIVE:
            raise FirmwareBusy(
                f"{endpoint} is already updating ({current.status})", endpoint=endpoint
            )
        if image_id is None:
            image = self.available(endpoint)
            if image is None:
                raise UnknownImage(f"no firmware image targets {endpoint}", endpoint=endpoint)
        else:
            image = self.catalogue.get(image_id)
        values = {r.path: r.value for r in await self._device.read(endpoint, [Path(5, 0)])}
        chosen = method or self._choose(values)
        job = FirmwareJob(endpoint, image.image_id, image.version, chosen, total=image.size)
        self.jobs[endpoint] = job
        await self._observations.observe(endpoint, [Path(5, 0)])
        self._report(job)
        try:
            if chosen == "pull":
                uri = self.uri(image.image_id, endpoint)
                await self._device.write(
                    endpoint, Path(5, 0, 1), [Record(Path(5, 0, 1), uri)], replace=True
                )
            else:  # the transfer may take minutes: the job is answered now, the push goes on
                self._tasks.spawn(self._push(job, self.catalogue.read(image.image_id)))
        except Lwm2mError as err:
            job.status, job.message = "failed", str(err)
            self._report(job)
            raise
        return job

    async def _push(self, job: FirmwareJob, data: bytes) -> None:
        """Write 5/0/0 (Package, an Opaque resource) as application/octet-stream (ct 42),
        block-wise, bounded by push_timeout for the whole transfer."""
        try:
            await self._device.write(
                job.endpoint, Path(5, 0, 0), [Record(Path(5, 0, 0), data)], replace=True,
                block_size=self.settings.block_size, seconds=self.settings.push_timeout,
                chosen_formats=[ContentFormat.OPAQUE],
            )  # fmt: skip
        except Lwm2mError as err:
            if job.status == "downloading":
                job.status, job.message = "failed", f"the push failed: {err}"
                self._report(job)
            return
        if job.status == "downloading":
            job.bytes_done = job.total
            self._report(job)

    def _watch(self, job: FirmwareJob) -> None:
        """Every active state has a deadline: a device that never reports ends its job failed."""
        if job.status not in ACTIVE:
            self._deadlines.cancel(job.endpoint)
            return
        updating = job.status == "updating"
        seconds = self.settings.update_timeout if updating else self.settings.download_timeout
        step = "finish updating" if updating else "report the image downloaded"
        if self._deadline_of.get(job.endpoint) == (job.status, id(job)):
            return  # already watching this state of this job
        self._deadline_of[job.endpoint] = (job.status, id(job))

        def expired() -> None:
            self._deadline_of.pop(job.endpoint, None)
            if self.jobs.get(job.endpoint) is job and job.status in ACTIVE:
                job.status = "failed"
                job.message = f"the device did not {step} within {seconds:g} s"
                self._report(job)

        self._deadlines.set(job.endpoint, time.time() + seconds, expired)

    def resume(self) -> None:
        """Deadlines for the jobs that were active when the gateway stopped (counted anew)."""
        for job in self.jobs.values():
            self._watch(job)

    def stop(self) -> None:
        self._deadlines.cancel_all()

    @staticmethod
    def _choose(values: dict[Path, Any]) -> str:
        """Pull when the device can fetch over CoAP (5/0/8) and accepts pull (5/0/9)."""
        delivery = values.get(Path(5, 0, 9), DeliveryMethod.BOTH)
        protocols = [v for p, v in values.items() if p.resource_path == Path(5, 0, 8)]
        can_pull = delivery in (DeliveryMethod.PULL, DeliveryMethod.BOTH) and (
            not protocols or COAP_PROTOCOL in protocols
        )
        return "pull" if can_pull else "push"

    async def cancel(self, endpoint: str) -> FirmwareJob:
        job = self.jobs.get(endpoint)
        if job is None or job.status not in ACTIVE:
            raise Lwm2mError(f"{endpoint} has no firmware update in progress", endpoint=endpoint)
        await self._device.execute(endpoint, Path(5, 0, 10))
        job.status, job.message = "cancelled", UPDATE_RESULT_MESSAGES[UpdateResult.CANCELLED]
        self._report(job)
        return job

    async def reset(self, endpoint: str) -> None:
        """Writing an empty Package URI resets the device's state machine (E.6)."""
        await self._device.write(endpoint, Path(5, 0, 1), [Record(Path(5, 0, 1), "")], replace=True)
        job = self.jobs.get(endpoint)
        if job is not None and job.status in ACTIVE:
            job.status, job.message = "cancelled", "reset"
            self._report(job)

    # --- serving the image, and following the device --------------------------------------------

    async def _serve(self, request: aiocoap.Message) -> aiocoap.Message:
        path = tuple(request.opt.uri_path)
        if request.code != Code.GET or len(path) != 2:
            return aiocoap.Message(code=Code.NOT_FOUND)
        try:
            data = self.catalogue.read(path[1])
        except (UnknownImage, OSError):
            return aiocoap.Message(code=Code.NOT_FOUND, payload=b"no such firmware image")
        job = self._job_for(path[1], request.remote)
        if job is None:  # only the devices an update targets get its image, and only then
            return aiocoap.Message(code=Code.NOT_FOUND, payload=b"no such firmware image")
        block = request.opt.block2
        served = (
            len(data) if block is None else min(len(data), (block.block_number + 1) * block.size)
        )
        if job.status == "downloading":
            step = max(1, job.total // 20)  # report every 5 %
            if served // step != job.bytes_done // step or served == job.total:
                job.bytes_done = served
                self._report(job)
            job.bytes_done = served
        return aiocoap.Message(code=Code.CONTENT, payload=data, content_format=42)

    def _job_for(self, image_id: str, remote: Any) -> FirmwareJob | None:
        """The active job this requester downloads for: a DTLS device by its PSK identity, a
        NoSec one by its host (devices download from another port than they register from)."""
        identity, host = identity_of(remote), host_of(remote.hostinfo)
        for job in self.jobs.values():
            if job.image_id != image_id or job.status not in ACTIVE:
                continue
            try:
                registration = self._registrations.get(job.endpoint).registration
            except UnknownEndpoint:
                continue
            if registration.security == "psk":
                if identity is not None and identity == registration.identity:
                    return job
            elif identity is None and host_of(registration.address) == host:
                return job
        return None

    def _on_event(self, event: ServerEvent) -> None:
        job = self.jobs.get(event.endpoint)
        if job is None or job.status not in ACTIVE:
            return
        if event.name == "endpoint_registered" and job.status == "updating":
            # it restarted into the new image, perhaps: ask which version it runs now (the
            # inventory of a registration comes later, paced)
            self._tasks.spawn(self._check_version(job))
            return
        if event.name != "resource_changed":
            return
        path, value = event.data.get("path"), event.data.get("value")
        if path == "/5/0/3" and value == FirmwareState.DOWNLOADED and job.status == "downloading":
            job.status, job.bytes_done = "downloaded", job.total
            self._report(job)
            self._tasks.spawn(self._install(job))
        elif path == "/5/0/5" and isinstance(value, int) and value != UpdateResult.INITIAL:
            try:
                result = UpdateResult(value)
            except ValueError:
                result = UpdateResult.UPDATE_FAILED
            if result != UpdateResult.DEFERRED:
                self._finish(job, result)

    async def _check_version(self, job: FirmwareJob) -> None:
        await asyncio.sleep(REGISTER_SETTLE)  # its 2.01 leaves before the Read
        try:
            await self._device.read(job.endpoint, [Path(3, 0, 3)])
            installed = self._registrations.get(job.endpoint).values.get(Path(3, 0, 3))
        except Lwm2mError as err:  # the Update Result it reports (5/0/5) still ends the job
            _LOGGER.info("Cannot read the firmware version of %s: %s", job.endpoint, err)
            return
        if installed is not None and installed[0] == job.version and job.status == "updating":
            self._finish(job, UpdateResult.SUCCESS)

    async def _install(self, job: FirmwareJob) -> None:
        job.status = "updating"
        self._report(job)
        try:
            await self._device.execute(job.endpoint, Path(5, 0, 2))
        except Lwm2mError as err:
            job.status, job.message = "failed", f"Update was refused: {err}"
            self._report(job)

    def _finish(self, job: FirmwareJob, result: UpdateResult) -> None:
        job.result = int(result)
        job.message = UPDATE_RESULT_MESSAGES[result]
        job.status = {UpdateResult.SUCCESS: "succeeded", UpdateResult.CANCELLED: "cancelled"}.get(
            result, "failed"
        )
        self._report(job)
