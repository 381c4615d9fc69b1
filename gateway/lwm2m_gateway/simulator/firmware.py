"""The simulated device's Firmware Update object (5): the state machine of LwM2M 1.1 core E.6.

Pull: a Package URI write makes it download the image over CoAP (block-wise); push: a Package
write delivers it. Update (5/0/2) installs it: the version in the image's first line
("FW <version>") becomes 3/0/3, the result is 1 and the device registers again. Tests make it
fail on purpose with `fail_with` (an Update Result code), or hold a download with `stall`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

import aiocoap
import aiocoap.error
from aiocoap.numbers.codes import Code

from ..coap import wait_response
from ..lwm2m.firmware import FirmwareState, UpdateResult
from ..lwm2m.paths import Path
from ..lwm2m.values import Value

_LOGGER = logging.getLogger(__name__)
PACKAGE, URI, UPDATE, STATE, RESULT, CANCEL = (Path(5, 0, r) for r in (0, 1, 2, 3, 5, 10))


class FirmwareHost(Protocol):
    """What the firmware object needs of the device it lives in."""

    endpoint: str

    @property
    def context(self) -> aiocoap.Context: ...
    def value(self, path: Path | str) -> Value | None: ...
    def set_value(self, path: Path | str, value: Value) -> None: ...
    def reregister_soon(self) -> None: ...


class SimulatedFirmware:
    def __init__(self, device: FirmwareHost) -> None:
        self.device = device
        self.package: bytes | None = None
        self.fail_with: UpdateResult | None = None  # the Update Result an install ends with
        self.stall = False  # the download waits for resume() (to test cancel and restarts)
        self._resumed = asyncio.Event()
        self._download: asyncio.Task[None] | None = None

    def _set(self, state: FirmwareState, result: UpdateResult | None = None) -> None:
        self.device.set_value(STATE, int(state))
        if result is not None:
            self.device.set_value(RESULT, int(result))

    def written(self, path: Path, value: object) -> None:
        """A Write to object 5 (after the value is stored)."""
        if path == URI and isinstance(value, str):
            self._cancel_download()
            if not value:
                self.package = None
                self._set(FirmwareState.IDLE, UpdateResult.INITIAL)  # reset (E.6)
            elif not value.startswith(("coap://", "coaps://")):
                self._set(FirmwareState.IDLE, UpdateResult.UNSUPPORTED_PROTOCOL)
            else:
                self._set(FirmwareState.DOWNLOADING, UpdateResult.INITIAL)
                self._download = asyncio.create_task(self._pull(value))
        elif path == PACKAGE and isinstance(value, bytes):
            if value in (b"", b"\0"):
                self.package = None
                self._set(FirmwareState.IDLE, UpdateResult.INITIAL)
            else:
                self.package = value
                self._set(FirmwareState.DOWNLOADED, UpdateResult.INITIAL)

    async def _pull(self, uri: str) -> None:
        try:
            if self.stall:
                await self._resumed.wait()
            request = aiocoap.Message(code=Code.GET, uri=uri)
            response = await wait_response(self.device.context.request(request), 120)
        except (aiocoap.error.Error, TimeoutError, ValueError) as err:
            _LOGGER.info("%s: download of %s failed: %s", self.device.endpoint, uri, err)
            self._set(FirmwareState.IDLE, UpdateResult.CONNECTION_LOST)
            return
        if response.code != Code.CONTENT:
            self._set(FirmwareState.IDLE, UpdateResult.INVALID_URI)
            return
        self.package = response.payload
        self._set(FirmwareState.DOWNLOADED, UpdateResult.INITIAL)

    def resume(self) -> None:
        self.stall = False
        self._resumed.set()

    def close(self) -> None:
        self._cancel_download()

    def _cancel_download(self) -> None:
        if self._download is not None:
            self._download.cancel()
            self._download = None

    def executed(self, path: Path) -> bool:
        """An Execute on object 5; returns False when it is not allowed in this state."""
        state = self.device.value(STATE)
        if path == CANCEL:
            if state not in (FirmwareState.DOWNLOADING, FirmwareState.DOWNLOADED):
                return False
            self._cancel_download()
            self.package = None
            self._set(FirmwareState.IDLE, UpdateResult.CANCELLED)
            return True
        if path == UPDATE:
            if state != FirmwareState.DOWNLOADED or self.package is None:
                return False
            self._set(FirmwareState.UPDATING)
            asyncio.get_running_loop().call_soon(self._install)
            return True
        return False

    def _install(self) -> None:
        package, self.package = self.package or b"", None
        if self.fail_with is not None:
            self._set(FirmwareState.DOWNLOADED, self.fail_with)
            return
        first = package.split(b"\n", 1)[0].decode("utf-8", "replace")
        if not first.startswith("FW "):
            self._set(FirmwareState.IDLE, UpdateResult.INTEGRITY_FAILURE)
            return
        version = first.removeprefix("FW ").strip()
        self.device.set_value(Path(3, 0, 3), version)
        self.device.set_value(Path(5, 0, 7), version)
        self._set(FirmwareState.IDLE, UpdateResult.SUCCESS)
        with contextlib.suppress(RuntimeError):  # a rebooted device registers again
            self.device.reregister_soon()
