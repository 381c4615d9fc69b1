"""Many simulated devices in one process, with values that drift like real sensors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

from ..lwm2m.paths import Path
from .device import SimulatedDevice

_LOGGER = logging.getLogger(__name__)


class DeviceFleet:
    def __init__(
        self, server_uri: str, count: int, *, prefix: str = "sim-", concurrency: int = 50,
        **device_kwargs: Any,
    ) -> None:  # fmt: skip
        self.devices = [
            SimulatedDevice(f"{prefix}{index}", server_uri, **device_kwargs)
            for index in range(count)
        ]
        self._concurrency = asyncio.Semaphore(concurrency)
        self._animator: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async def one(device: SimulatedDevice) -> None:
            async with self._concurrency:
                await device.start()

        await asyncio.gather(*(one(device) for device in self.devices))

    def animate(self, interval: float) -> None:
        """Every interval, nudge temperatures and humidities and press a button now and then."""
        self._animator = asyncio.create_task(self._animate(interval))

    async def _animate(self, interval: float) -> None:
        rng = random.Random(7)
        while True:
            await asyncio.sleep(interval)
            for device in self.devices:
                for path, low, high in (
                    (Path(3303, 0, 5700), -10, 40),
                    (Path(3304, 0, 5700), 0, 100),
                ):
                    value = device.value(path)
                    if isinstance(value, float):
                        nudged = min(high, max(low, value + rng.uniform(-0.5, 0.5)))
                        device.set_value(path, round(nudged, 2))
                if rng.random() < 0.1:
                    count = device.value(Path(3347, 0, 5501))
                    device.set_value(
                        Path(3347, 0, 5501), (count if isinstance(count, int) else 0) + 1
                    )

    async def stop(self) -> None:
        if self._animator is not None:
            self._animator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._animator
        await asyncio.gather(*(device.stop() for device in self.devices))
