"""Firmware jobs that end, images that stay distinct, and imports that read only what they may."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path as FilePath

import aiocoap
import pytest
from aiocoap.numbers.codes import Code

from lwm2m_gateway.lwm2m.errors import BadRequest
from lwm2m_gateway.server import FirmwareSettings, Lwm2mServer
from lwm2m_gateway.server.firmware_images import MAX_IMAGE_BYTES
from lwm2m_gateway.server.firmware_updates import FirmwareUpdates
from tests.gateway.conftest import DeviceFactory, Events, ServerFactory
from tests.gateway.rawdevice import RawDevice, Reply

IMAGE = b"FW 2.0.0\n" + bytes(range(256)) * 8


def firmware_of(lwm2m: Lwm2mServer) -> FirmwareUpdates:
    assert lwm2m.firmware is not None
    return lwm2m.firmware


@pytest.fixture
async def with_firmware(
    make_server: ServerFactory, tmp_path: FilePath
) -> tuple[Lwm2mServer, Events]:
    settings = FirmwareSettings(
        tmp_path / "fw", "127.0.0.1", block_size=256, download_timeout=1.0, update_timeout=1.0,
        import_dir=tmp_path / "import",
    )  # fmt: skip
    return await make_server(firmware=settings, initial_read=False)


def test_the_same_bytes_added_twice_are_two_images(tmp_path: FilePath) -> None:
    from lwm2m_gateway.server.firmware_images import FirmwareCatalogue
    from lwm2m_gateway.store import Store

    store = Store.open(tmp_path)
    try:
        catalogue = FirmwareCatalogue(store, tmp_path)
        first = catalogue.add(IMAGE, version="2.0.0", endpoints=["a"])
        second = catalogue.add(IMAGE, version="2.0.1", endpoints=["b"])
        assert first.image_id != second.image_id
        assert [i.version for i in catalogue.images()] == ["2.0.0", "2.0.1"]
        assert catalogue.read(first.image_id) == catalogue.read(second.image_id) == IMAGE
    finally:
        store.close()


async def test_a_push_is_opaque_and_runs_after_the_job_is_answered(
    with_firmware: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = with_firmware

    def device(message: aiocoap.Message) -> Reply:
        if message.code == Code.GET:  # /5/0: state Idle, delivery push only
            return Code.CONTENT, 11542, bytes.fromhex("c1 03 00 c1 09 01")
        return Code.CHANGED, None, b""

    raw = await RawDevice.start(device)
    try:
        answer = await raw.request(lwm2m.coap_port, Code.POST, "/rd", ["ep=pushed", "lt=60"],
                                   b'</>;rt="oma.lwm2m";ct=11542,</5/0>')  # fmt: skip
        assert answer.code == Code.CREATED
        await events.wait("endpoint_registered", "pushed")
        firmware = firmware_of(lwm2m)
        image = firmware.catalogue.add(IMAGE, version="2.0.0", endpoints=["pushed"])
        job = await firmware.start("pushed")
        assert (job.method, job.status, job.bytes_done) == ("push", "downloading", 0)
        await events.wait("firmware_progress", "pushed", percent=100)
        writes = [r.message for r in raw.received if r.message.code == Code.PUT]
        assert writes
        assert {w.opt.content_format for w in writes} == {42}  # application/octet-stream
        assert {w.opt.block1.size for w in writes if w.opt.block1} == {256}
        assert b"".join(w.payload for w in writes) == IMAGE  # the bytes, not base64 or SenML
        assert image.size == len(IMAGE)
    finally:
        raw.close()


async def test_a_device_that_never_reports_downloaded_ends_its_job_failed(
    with_firmware: tuple[Lwm2mServer, Events], make_device: DeviceFactory
) -> None:
    lwm2m, events = with_firmware
    device = await make_device(lwm2m, "silent-fw")
    await events.wait("endpoint_registered", "silent-fw")
    device.firmware.stall = True
    firmware = firmware_of(lwm2m)
    firmware.catalogue.add(IMAGE, version="2.0.0", endpoints=["silent-fw"])
    first = await firmware.start("silent-fw", method="pull")
    result = await events.wait("firmware_result", "silent-fw", wait_s=5)
    assert result.data["status"] == "failed"
    assert result.data["message"] == "the device did not report the image downloaded within 1 s"
    # a new update can start (no firmware_busy): the failed job no longer holds the device
    again = await firmware.start("silent-fw", method="pull")
    assert again is not first
    assert firmware.jobs["silent-fw"] is again


async def test_only_regular_files_of_the_firmware_directory_are_imported(
    with_firmware: tuple[Lwm2mServer, Events], tmp_path: FilePath
) -> None:
    lwm2m, _ = with_firmware
    firmware = firmware_of(lwm2m)
    import_dir = tmp_path / "import"
    (import_dir / "good.bin").write_bytes(IMAGE)
    image = await firmware.catalogue.add_file(FilePath("good.bin"), import_dir, version="2")
    assert firmware.catalogue.read(image.image_id) == IMAGE

    os.mkfifo(import_dir / "pipe")
    (import_dir / "escape").symlink_to("/etc/passwd")
    (import_dir / "huge.bin").touch()
    os.truncate(import_dir / "huge.bin", MAX_IMAGE_BYTES + 1)  # sparse: size checked, not read
    cases = {
        "pipe": "not a regular file",
        "/etc/passwd": "outside the firmware directory",
        "escape": "outside the firmware directory",
        "../fw/firmware": "outside the firmware directory",
        "huge.bin": f"over {MAX_IMAGE_BYTES}",
        "missing.bin": "not found",
    }
    for name, message in cases.items():
        with pytest.raises(BadRequest, match=message):
            await asyncio.wait_for(
                firmware.catalogue.add_file(FilePath(name), import_dir, version="x"), 5
            )
    assert len(firmware.catalogue.images()) == 1
