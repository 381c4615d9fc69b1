"""Fixtures for gateway tests: a real server on an ephemeral loopback port, simulated devices."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path as FilePath
from typing import Any

import pytest

from lwm2m_gateway.lwm2m.model import ObjectRegistry
from lwm2m_gateway.server import Lwm2mServer, ServerConfig, ServerEvent
from lwm2m_gateway.simulator import SimulatedDevice
from lwm2m_gateway.store import Store


class Events:
    """Collects server events; `wait` returns the first matching one or fails after a timeout."""

    def __init__(self) -> None:
        self.seen: list[ServerEvent] = []
        self._changed = asyncio.Condition()

    def __call__(self, event: ServerEvent) -> None:
        self.seen.append(event)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait(
        self, name: str, endpoint: str | None = None, wait_s: float = 10.0, **data: Any
    ) -> ServerEvent:
        def match() -> ServerEvent | None:
            for event in self.seen:
                if (
                    event.name == name
                    and endpoint in (None, event.endpoint)
                    and all(event.data.get(k) == v for k, v in data.items())
                ):
                    return event
            return None

        async def until() -> ServerEvent:
            async with self._changed:
                while (found := match()) is None:
                    await self._changed.wait()
                return found

        return await asyncio.wait_for(until(), wait_s)

    def names(self, endpoint: str) -> list[str]:
        return [e.name for e in self.seen if e.endpoint == endpoint]


async def until(condition: Callable[[], bool], wait_s: float = 5.0) -> None:
    """Wait for a condition the test cannot be told about by an event (a device's own state)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not true within {wait_s} s")
        await asyncio.sleep(0.01)


ServerFactory = Callable[..., Awaitable[tuple[Lwm2mServer, Events]]]
DeviceFactory = Callable[..., Awaitable[SimulatedDevice]]


@pytest.fixture
async def make_server(tmp_path: FilePath) -> AsyncIterator[ServerFactory]:
    servers: list[tuple[Lwm2mServer, Store]] = []

    async def make(data_dir: FilePath | None = None, **config: Any) -> tuple[Lwm2mServer, Events]:
        settings = {"coap_port": 0, "request_timeout": 5.0, "queue_timeout": 5.0, **config}
        store = Store.open(data_dir or tmp_path / "data")
        server = Lwm2mServer(
            store=store, registry=ObjectRegistry.builtin(), config=ServerConfig(**settings)
        )
        events = Events()
        server.events.subscribe(events)
        servers.append((server, store))  # closed at teardown even when start fails
        await server.start()
        return server, events

    yield make
    for server, store in servers:
        await server.stop()
        store.close()


@pytest.fixture
async def server(make_server: ServerFactory) -> tuple[Lwm2mServer, Events]:
    return await make_server()


@pytest.fixture
async def make_device() -> AsyncIterator[DeviceFactory]:
    devices: list[SimulatedDevice] = []

    async def make(server: Lwm2mServer, endpoint: str = "dev", **kwargs: Any) -> SimulatedDevice:
        uri = kwargs.pop("server_uri", f"coap://127.0.0.1:{server.coap_port}")
        device = SimulatedDevice(endpoint, uri, **kwargs)
        await device.start()
        devices.append(device)
        return device

    yield make
    for device in devices:
        await device.stop()
