"""The gateway announces its API over mDNS, and a browser on this host finds it."""

from __future__ import annotations

from pathlib import Path as FilePath

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from lwm2m_gateway.announce import SERVICE_TYPE, service_name
from lwm2m_gateway.api import SCHEMA_VERSION
from lwm2m_gateway.app import Gateway
from lwm2m_gateway.config import load_config


async def test_the_api_is_announced_with_the_gateway_id(tmp_path: FilePath) -> None:
    config = load_config(
        None,
        {
            "coap_port": 0,
            "coaps_port": 0,
            "api_port": 0,
            "data_dir": str(tmp_path),
            "announce": True,
        },
    )
    gateway = Gateway(config)
    await gateway.start()
    browser = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    try:
        info = AsyncServiceInfo(SERVICE_TYPE, service_name(gateway.store.gateway_id))
        assert await info.async_request(browser.zeroconf, 5000)
        assert info.port == gateway.api.port
        assert info.parsed_addresses() == ["127.0.0.1"]
        assert info.properties[b"gateway_id"] == gateway.store.gateway_id.encode()
        assert info.properties[b"schema_version"] == str(SCHEMA_VERSION).encode()
    finally:
        await browser.async_close()
        await gateway.stop()


def test_announcing_is_off_for_a_loopback_api_and_on_otherwise(tmp_path: FilePath) -> None:
    assert load_config(None, {"data_dir": str(tmp_path)}).announce is False
    exposed = load_config(None, {"api_host": "0.0.0.0", "token": "long-enough", "data_dir": "d"})
    assert exposed.announce is True
    assert (
        load_config(
            None, {"api_host": "0.0.0.0", "token": "long-enough", "announce": False}
        ).announce
        is False
    )
