"""The gateway announces its API over mDNS (`_lwm2m-gateway._tcp.local.`) so HA discovers it.

The TXT record carries the gateway id (HA's unique id for it) and the API schema version.
"""

from __future__ import annotations

import ipaddress
import logging
import socket

import ifaddr
from zeroconf import InterfaceChoice, IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from . import __version__
from .api import SCHEMA_VERSION

_LOGGER = logging.getLogger(__name__)
SERVICE_TYPE = "_lwm2m-gateway._tcp.local."
WILDCARDS = ("", "0.0.0.0", "::")


def service_name(gateway_id: str) -> str:
    return f"ha-lwm2m-{gateway_id[:8]}.{SERVICE_TYPE}"


def _addresses(api_host: str) -> list[str]:
    """The IPv4 addresses the API is reachable on: the bound one, or every interface's."""
    if api_host not in WILDCARDS:
        return [socket.gethostbyname(api_host)]
    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ipaddress.ip_address(ip.ip).is_loopback:
                found.append(ip.ip)
    return found


class Announcer:
    def __init__(self, gateway_id: str, api_host: str, api_port: int) -> None:
        self.gateway_id = gateway_id
        self.api_host = api_host
        self.api_port = api_port
        self._zeroconf: AsyncZeroconf | None = None
        self.info: ServiceInfo | None = None

    async def start(self) -> None:
        addresses = _addresses(self.api_host)
        if not addresses:
            _LOGGER.warning("No address to announce the API on; mDNS announcement skipped")
            return
        interfaces = InterfaceChoice.All if self.api_host in WILDCARDS else addresses
        self._zeroconf = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
        self.info = ServiceInfo(
            SERVICE_TYPE,
            service_name(self.gateway_id),
            addresses=[socket.inet_aton(address) for address in addresses],
            port=self.api_port,
            properties={
                "gateway_id": self.gateway_id,
                "schema_version": str(SCHEMA_VERSION),
                "version": __version__,
            },
        )
        await self._zeroconf.async_register_service(self.info)
        _LOGGER.info("Announced %s on %s", self.info.name, ", ".join(addresses))

    async def stop(self) -> None:
        if self._zeroconf is not None:
            await self._zeroconf.async_unregister_all_services()
            await self._zeroconf.async_close()
            self._zeroconf = None
