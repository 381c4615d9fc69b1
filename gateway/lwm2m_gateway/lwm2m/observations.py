"""Information reporting (LwM2M 1.1 core §6.4): Observe, Notify, Cancel, and re-observing.

Observations belong to the gateway: they are stored, and re-established when a device registers
again or the gateway restarts (the device's old tokens are dead by then).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiocoap
import aiocoap.error
from aiocoap.numbers.codes import Code

from .coap import wait_response
from .codecs import encode_paths
from .endpoint_state import EndpointState
from .errors import DeviceError, DeviceTimeout, Lwm2mError, raise_for_code
from .operations import RETRY_CODES, Operations
from .paths import InvalidPath, Path, PathLevel
from .values import Record

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class Observation:
    paths: tuple[Path, ...]
    request: Any  # aiocoap's pending request, whose .observation yields notifications
    task: asyncio.Task[None] | None = None

    @property
    def key(self) -> str:
        return ",".join(str(path) for path in self.paths)

    def cancel(self) -> None:
        if not self.request.observation.cancelled:
            self.request.observation.cancel()
        if self.task is not None:
            self.task.cancel()


class Observations(Operations):
    def __init__(self) -> None:
        self._observations: dict[str, dict[str, Observation]] = {}

    async def observe(self, endpoint: str, paths: Sequence[Path]) -> list[Record]:
        state = self.state(endpoint)
        key = ",".join(str(path) for path in paths)
        current = self._observations.get(endpoint, {}).get(key)
        if current is not None and not current.request.observation.cancelled:
            return self._cached(state, paths)
        records, observation = await self._start_observation(state, tuple(paths))
        self._observations.setdefault(endpoint, {})[key] = observation
        self.store.save_observation(endpoint, key, {"paths": [str(p) for p in paths]})
        self.apply_records(state, records)
        return records

    def _cached(self, state: EndpointState, paths: Sequence[Path]) -> list[Record]:
        out = []
        for path, (value, stamp) in state.values.items():
            if any(p.contains(path) for p in paths):
                out.append(Record(path, value, stamp))
        return out

    async def _start_observation(
        self, state: EndpointState, paths: tuple[Path, ...]
    ) -> tuple[list[Record], Observation]:
        base = paths[0] if len(paths) == 1 else Path()
        if len(paths) == 1:
            formats = self._formats(state, "read", single=base.level >= PathLevel.RESOURCE)
        else:
            formats = self._composite_formats(state)
        last: aiocoap.Message | None = None
        for fmt in formats:
            if len(paths) == 1:
                message = self.message(state, Code.GET, base, accept=fmt, observe=0)
            else:
                message = self.message(
                    state, Code.FETCH, base, payload=encode_paths(paths, fmt),
                    content_format=fmt, accept=fmt, observe=0,
                )  # fmt: skip
            await self.wait_awake(state)
            request = self.context.request(message)
            try:
                response = await wait_response(request, self.config.request_timeout)
            except (TimeoutError, aiocoap.error.Error) as err:
                raise DeviceTimeout(
                    f"{state.name} did not answer the observe: {err or 'timeout'}",
                    endpoint=state.name,
                    path=str(base),
                ) from None
            self.touch(state)
            last = response
            if response.code in RETRY_CODES:
                if not request.observation.cancelled:
                    request.observation.cancel()
                continue
            raise_for_code(response.code, response.payload, endpoint=state.name, path=str(base))
            records = self._decode(state, response, fmt, base)
            observation = Observation(paths, request)
            observation.task = self.spawn(self._follow(state.name, observation, fmt, base))
            return records, observation
        assert last is not None
        raise DeviceError(last.code, "no acceptable content format", endpoint=state.name)

    async def _follow(self, name: str, observation: Observation, fmt: int, base: Path) -> None:
        try:
            async for notification in observation.request.observation:
                state = self.state(name)
                self.touch(state)
                if not notification.code.is_successful():
                    _LOGGER.info(
                        "%s ended observation %s with %s", name, observation.key, notification.code
                    )
                    break
                try:
                    records = self._decode(state, notification, fmt, base)
                except Lwm2mError as err:
                    _LOGGER.warning(
                        "Bad notification from %s on %s: %s", name, observation.key, err
                    )
                    continue
                self.apply_records(state, records)
        except (aiocoap.error.Error, Lwm2mError) as err:
            _LOGGER.info("Observation %s of %s ended: %s", observation.key, name, err)
        finally:
            mine = self._observations.get(name, {})
            if mine.get(observation.key) is observation:
                del mine[observation.key]

    async def cancel_observe(
        self, endpoint: str, paths: Sequence[Path], *, active: bool = True
    ) -> None:
        """Cancel (1.1 core §6.4.2). Passive: forget it, so the next notification is reset.
        Active: also send Observe=1 to the device."""
        state = self.state(endpoint)
        key = ",".join(str(path) for path in paths)
        observation = self._observations.get(endpoint, {}).pop(key, None)
        self.store.delete_observation(endpoint, key)
        if observation is not None:
            observation.cancel()
        if active and len(paths) == 1:
            message = self.message(state, Code.GET, paths[0], observe=1)
            response = await self._exchange(state, message, paths[0])
            raise_for_code(response.code, response.payload, endpoint=endpoint, path=key)

    def cancel_observations(self, endpoint: str) -> None:
        """Drop this endpoint's live observations (stored ones stay, to come back on register)."""
        for observation in self._observations.pop(endpoint, {}).values():
            observation.cancel()

    def cancel_all_observations(self) -> None:
        for name in list(self._observations):
            self.cancel_observations(name)

    async def _reestablish_observations(self, state: EndpointState) -> None:
        stored = self.store.load_observations_of(state.name)
        for key, data in stored.items():
            try:
                paths = [Path.parse(p) for p in data.get("paths", key.split(","))]
            except InvalidPath:
                continue
            if (old := self._observations.get(state.name, {}).pop(key, None)) is not None:
                old.cancel()
            try:
                await self.observe(state.name, paths)
            except Lwm2mError as err:
                _LOGGER.info("Could not re-observe %s on %s: %s", key, state.name, err)
