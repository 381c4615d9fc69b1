"""The Gateway process: the store, the object model, the composed LwM2M server and the API."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import aiocoap.error

from . import __version__, supervisor
from .announce import Announcer
from .api import ApiServer
from .config import GatewayConfig
from .heap import HeapSettler
from .lwm2m.model import ObjectRegistry
from .server import FirmwareSettings, Lwm2mServer, ServerConfig
from .server.firmware_updates import FirmwareUpdates
from .store import DataDirectoryLock, Store, StoreError

_LOGGER = logging.getLogger("lwm2m_gateway")


def quiet_coap_shutdown(loop: asyncio.AbstractEventLoop) -> None:
    """aiocoap leaves LibraryShutdown futures unretrieved when a context shuts down with
    observations still open; that is the normal end of an observation, not an error."""

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), aiocoap.error.LibraryShutdown):
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.lock = DataDirectoryLock(config.data_dir)
        self.lock.acquire()
        try:
            self.store = Store.open(config.data_dir)
        except StoreError:
            self.lock.release()
            raise
        self.registry = ObjectRegistry.builtin()
        if config.objects_dir is not None:
            for error in self.registry.load_dir(config.objects_dir):
                _LOGGER.warning("%s", error)
        public_host = config.public_host or (
            config.coap_host
            if config.coap_host not in ("", "0.0.0.0", "::")
            else socket.gethostbyname(socket.gethostname())
        )
        self.server = Lwm2mServer(
            store=self.store,
            registry=self.registry,
            config=ServerConfig(
                host=config.coap_host,
                public_host=config.public_host,
                fallback_host=public_host,
                coap_port=config.coap_port if config.coap_enabled else None,
                coaps_port=config.coaps_port if config.coaps_enabled else None,
                unknown_endpoints=config.unknown_endpoints,
                max_endpoints=config.max_endpoints,
                max_pending=config.max_pending,
                register_rate=config.register_rate,
                inventory_concurrency=config.inventory_concurrency,
                inventory_rate=config.inventory_rate,
                inventory_valid_for=config.inventory_valid_for,
                watchdog_interval=config.watchdog_interval,
                observation_silence=config.observation_silence,
                request_timeout=config.request_timeout,
                queue_timeout=config.queue_timeout,
                firmware=FirmwareSettings(
                    data_dir=config.data_dir,
                    public_host=public_host,
                    block_size=config.firmware_block_size,
                    push_timeout=config.firmware_push_timeout,
                    download_timeout=config.firmware_download_timeout,
                    update_timeout=config.firmware_update_timeout,
                    import_dir=config.firmware_dir,
                ),
            ),
        )
        self.announcer: Announcer | None = None
        self.heap = HeapSettler()
        self.api = ApiServer(
            self.server,
            self.store.gateway_id,
            host=config.api_host,
            port=config.api_port,
            token=config.token,
        )

    @property
    def firmware(self) -> FirmwareUpdates:
        assert self.server.firmware is not None  # the gateway always configures it
        return self.server.firmware

    async def start(self) -> None:
        await self.server.start()
        await self.api.start()
        self.heap.start()
        if self.config.announce:
            self.announcer = Announcer(self.store.gateway_id, self.config.api_host, self.api.port)
            await self.announcer.start()
        if self.config.token is not None:  # inside a Home Assistant app, the Supervisor's way
            await supervisor.announce(self.config.token, self.store.gateway_id, self.api.port)
        host = self.config.coap_host
        coap = f"udp://{host}:{self.server.coap_port}" if self.server.coap_port else "off"
        coaps = f"dtls://{host}:{self.server.coaps_port}" if self.server.coaps_port else "off"
        _LOGGER.info(
            "lwm2m-gateway %s listening coap=%s api=%s coaps=%s (unknown endpoints: %s)",
            __version__, coap, self.api.url, coaps, self.config.unknown_endpoints,
        )  # fmt: skip

    async def stop(self) -> None:
        await self.heap.stop()
        if self.announcer is not None:
            await self.announcer.stop()
        await self.api.stop()
        await self.server.stop()
        self.store.close()
        self.lock.release()
