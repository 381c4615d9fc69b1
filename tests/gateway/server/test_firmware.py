"""Firmware update (object 5) end to end: pull and push, failure, cancel, restart mid-download."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path as FilePath
from typing import Any

import aiocoap
import aiohttp
import pytest
from aiocoap.numbers.codes import Code

from lwm2m_gateway.app import Gateway
from lwm2m_gateway.config import load_config
from lwm2m_gateway.lwm2m.firmware import UpdateResult
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.server import ServerEvent
from lwm2m_gateway.simulator import SimulatedDevice

IMAGE = b"FW 2.0.0\n" + bytes(range(256)) * 160  # ~40 KiB: dozens of CoAP blocks


async def start(data_dir: FilePath, coap_port: int = 0) -> Gateway:
    config = load_config(None, {"coap_port": coap_port, "coaps_port": 0, "api_port": 0,
                                "data_dir": str(data_dir),
                                "request_timeout": 5})  # fmt: skip
    gateway = Gateway(config)
    await gateway.start()
    return gateway


class Results:
    def __init__(self, gateway: Gateway) -> None:
        self.events: list[ServerEvent] = []
        gateway.server.events.subscribe(self.events.append)

    async def final(self, endpoint: str, wait_s: float = 15) -> dict[str, Any]:
        for _ in range(int(wait_s / 0.05)):
            for event in self.events:
                if event.name == "firmware_result" and event.endpoint == endpoint:
                    return dict(event.data)
            await asyncio.sleep(0.05)
        raise AssertionError(f"no firmware_result for {endpoint}")

    def progress(self, endpoint: str) -> list[int]:
        return [
            e.data["percent"]
            for e in self.events
            if e.name == "firmware_progress" and e.endpoint == endpoint
        ]


@pytest.fixture
async def gateway(tmp_path: FilePath) -> AsyncIterator[Gateway]:
    gateway = await start(tmp_path)
    yield gateway
    await gateway.stop()


async def device_for(gateway: Gateway, name: str) -> SimulatedDevice:
    device = SimulatedDevice(
        name, f"coap://127.0.0.1:{gateway.server.coap_port}", auto_update=False
    )
    await device.start()
    for _ in range(100):
        if (
            name in gateway.server.registrations.names()
            and gateway.server.registrations.get(name).values
        ):
            return device
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} did not register")


@pytest.mark.parametrize("method", ["pull", "push"])
async def test_an_update_installs_the_new_firmware(gateway: Gateway, method: str) -> None:
    results = Results(gateway)
    device = await device_for(gateway, f"fw-{method}")
    try:
        image = gateway.firmware.catalogue.add(IMAGE, version="2.0.0", endpoints=[device.endpoint])
        job = await gateway.firmware.start(device.endpoint, method=method)
        assert job.method == method
        result = await results.final(device.endpoint)
        assert result["status"] == "succeeded", result
        assert result["result"] == UpdateResult.SUCCESS
        assert device.value("/3/0/3") == "2.0.0"
        assert results.progress(device.endpoint)[-1] == 100
        if method == "pull":
            assert device.value("/5/0/1") == gateway.firmware.uri(image.image_id, device.endpoint)
            assert len(results.progress(device.endpoint)) > 3  # progress while blocks were served
    finally:
        await device.stop()


async def test_push_with_small_blocks_for_slow_links(tmp_path: FilePath) -> None:
    config = load_config(None, {"coap_port": 0, "coaps_port": 0, "api_port": 0, "data_dir": str(tmp_path),
                                "firmware_block_size": 64})  # fmt: skip
    gateway = Gateway(config)
    await gateway.start()
    results = Results(gateway)
    device = await device_for(gateway, "slow-link")
    try:
        assert gateway.firmware.settings.block_size == 64
        gateway.firmware.catalogue.add(IMAGE, version="2.0.0", endpoints=["slow-link"])
        await gateway.firmware.start("slow-link", method="push")
        assert (await results.final("slow-link"))["status"] == "succeeded"
        assert device.value("/3/0/3") == "2.0.0"
    finally:
        await device.stop()
        await gateway.stop()


async def test_the_device_chooses_push_when_it_cannot_pull(gateway: Gateway) -> None:
    device = await device_for(gateway, "push-only")
    try:
        device.values[Path(5, 0, 9)] = 1  # delivery method: push only
        gateway.firmware.catalogue.add(IMAGE, version="2.0.0", endpoints=["push-only"])
        job = await gateway.firmware.start("push-only")
        assert job.method == "push"
    finally:
        await device.stop()


async def test_a_failed_install_reports_the_reason(gateway: Gateway) -> None:
    results = Results(gateway)
    device = await device_for(gateway, "full-flash")
    try:
        device.firmware.fail_with = UpdateResult.NOT_ENOUGH_FLASH
        gateway.firmware.catalogue.add(IMAGE, version="2.0.0", endpoints=["full-flash"])
        await gateway.firmware.start("full-flash")
        result = await results.final("full-flash")
        assert result["status"] == "failed"
        assert result["message"] == "The device has not enough flash memory for this image"
        assert device.value("/3/0/3") == "1.0.0"
    finally:
        await device.stop()


async def test_cancel_stops_a_download(gateway: Gateway) -> None:
    results = Results(gateway)
    device = await device_for(gateway, "cancelled")
    try:
        device.firmware.stall = True
        gateway.firmware.catalogue.add(IMAGE, version="2.0.0", endpoints=["cancelled"])
        await gateway.firmware.start("cancelled", method="pull")
        job = await gateway.firmware.cancel("cancelled")
        assert job.status == "cancelled"
        assert (await results.final("cancelled"))["status"] == "cancelled"
        assert device.value("/5/0/3") == 0
        assert device.value("/5/0/5") == UpdateResult.CANCELLED
    finally:
        await device.stop()


async def test_an_empty_uri_resets_the_state_machine(gateway: Gateway) -> None:
    results = Results(gateway)
    device = await device_for(gateway, "reset")
    try:
        device.firmware.stall = True
        gateway.firmware.catalogue.add(IMAGE, version="2.0.0", endpoints=["reset"])
        await gateway.firmware.start("reset", method="pull")
        assert device.value("/5/0/3") == 1  # downloading
        await gateway.firmware.reset("reset")
        assert device.value("/5/0/1") == ""
        assert device.value("/5/0/3") == 0
        assert device.value("/5/0/5") == 0
        assert (await results.final("reset"))["status"] == "cancelled"
    finally:
        await device.stop()


async def test_an_update_survives_a_gateway_restart_mid_download(tmp_path: FilePath) -> None:
    first = await start(tmp_path)
    device = await device_for(first, "restarted")
    second: Gateway | None = None
    try:
        device.firmware.stall = True
        image = IMAGE.replace(b"FW 2.0.0", b"FW 3.1.0")
        first.firmware.catalogue.add(image, version="3.1.0", endpoints=["restarted"])
        await first.firmware.start("restarted", method="pull")
        port = first.server.coap_port
        await first.stop()
        second = await start(tmp_path, coap_port=port)
        assert second.firmware.jobs["restarted"].status == "downloading"
        results = Results(second)
        device.firmware.resume()  # the device's download now reaches the restarted gateway
        result = await results.final("restarted", wait_s=30)
        assert result["status"] == "succeeded", result
        assert device.value("/3/0/3") == "3.1.0"
    finally:
        await device.stop()
        if second is not None:
            await second.stop()


async def test_firmware_through_the_api(gateway: Gateway, tmp_path: FilePath) -> None:
    device = await device_for(gateway, "api-fw")
    image_file = tmp_path / "firmware-import" / "image.bin"  # the gateway's firmware directory
    image_file.write_bytes(IMAGE)
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(gateway.api.url) as ws:
            await ws.receive_json()

            async def call(command: str, **args: Any) -> dict[str, Any]:
                await ws.send_json({"message_id": command, "command": command, "args": args})
                while True:
                    message = await ws.receive_json(timeout=10)
                    if message.get("message_id") == command:
                        return dict(message)

            added = await call("firmware_add_image", file=str(image_file), version="2.0.0",
                               release_notes="Faster", endpoints=["api-fw"])  # fmt: skip
            assert added["success"], added
            image_id = added["result"]["image_id"]
            listed = await call("firmware_list_images")
            assert [i["image_id"] for i in listed["result"]["images"]] == [image_id]
            bad = await call("firmware_add_image", data="%%%", version="1")
            assert bad["error_code"] == "invalid_args"
            started = await call("firmware_update", endpoint="api-fw")
            assert started["result"]["image_id"] == image_id
            busy = await call("firmware_update", endpoint="api-fw")
            assert busy["error_code"] == "firmware_busy"
            for _ in range(200):
                status = await call("firmware_status", endpoint="api-fw")
                if status["result"]["jobs"][0]["status"] == "succeeded":
                    break
                await asyncio.sleep(0.05)
            assert status["result"]["jobs"][0]["status"] == "succeeded"
            assert (await call("firmware_remove_image", image_id=image_id))["success"]
            data = base64.b64encode(b"FW 9\n").decode()
            assert (await call("firmware_add_image", data=data, version="9"))["success"]
    finally:
        await device.stop()


async def test_registering_again_with_the_new_version_completes_the_update(
    gateway: Gateway,
) -> None:
    """A device that reboots into the new firmware before its Update Result is observed: its
    re-registration with the image's version in 3/0/3 completes the job (1.1 core E.6)."""
    results = Results(gateway)
    device = await device_for(gateway, "rebooter")
    try:
        device.firmware.stall = True
        gateway.firmware.catalogue.add(IMAGE, version="2.0.0", endpoints=["rebooter"])
        await gateway.firmware.start("rebooter", method="pull")
        gateway.firmware.jobs["rebooter"].status = "updating"  # Update was executed
        await gateway.server.observations.cancel_observe("rebooter", [Path(5, 0)], active=False)
        device.values[Path(3, 0, 3)] = "2.0.0"  # rebooted into the new image, result unseen
        await device.register()
        result = await results.final("rebooter")
        assert result["status"] == "succeeded"
        assert result["result"] == UpdateResult.SUCCESS
    finally:
        await device.stop()


async def test_a_dtls_device_pulls_over_coaps_and_nobody_else_gets_the_image(
    gateway: Gateway,
) -> None:
    results = Results(gateway)
    gateway.server.security.set("fw-dtls", "fw-dtls-id", b"firmware-psk-key")
    device = SimulatedDevice(
        "fw-dtls", f"coaps://127.0.0.1:{gateway.server.coaps_port}",
        psk=("fw-dtls-id", b"firmware-psk-key"), auto_update=False,
    )  # fmt: skip
    await device.start()
    try:
        for _ in range(100):
            if "fw-dtls" in gateway.server.registrations.names():
                break
            await asyncio.sleep(0.05)
        image = gateway.firmware.catalogue.add(IMAGE, version="2.0.0", endpoints=["fw-dtls"])
        device.firmware.stall = True  # hold the download while a stranger tries
        await gateway.firmware.start("fw-dtls", method="pull")
        uri = device.value("/5/0/1")
        assert uri == f"coaps://127.0.0.1:{gateway.server.coaps_port}/fw/{image.image_id}"

        context = await aiocoap.Context.create_client_context()
        try:
            stranger = aiocoap.Message(
                code=Code.GET,
                uri=f"coap://127.0.0.1:{gateway.server.coap_port}/fw/{image.image_id}",
            )
            response = await asyncio.wait_for(context.request(stranger).response, 10)
            assert response.code == Code.NOT_FOUND  # an id guessed or seen is not enough
            assert IMAGE[:64] not in response.payload
        finally:
            await context.shutdown()

        device.firmware.resume()
        result = await results.final("fw-dtls")
        assert result["status"] == "succeeded", result
        assert device.value("/3/0/3") == "2.0.0"
    finally:
        await device.stop()
