"""The health check that containers and service monitors run: `python -m lwm2m_gateway.health`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from lwm2m_gateway.app import Gateway
from lwm2m_gateway.config import load_config


async def health(config: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lwm2m_gateway.health", "--config", str(config), "--timeout", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_healthy_while_the_api_answers_unhealthy_otherwise(tmp_path: Path) -> None:
    settings = {"coap_port": 0, "coaps_port": 0, "api_port": 0, "data_dir": str(tmp_path / "d"),
                "token": "health-token-123", "log_level": "WARNING"}  # fmt: skip
    gateway = Gateway(load_config(None, settings))
    await gateway.start()
    config = tmp_path / "gateway.toml"
    try:
        config.write_text(f'api_port = {gateway.api.port}\ntoken = "health-token-123"\n')
        code, out = await health(config)
        assert code == 0, out
        assert gateway.store.gateway_id in out
        config.write_text(f'api_port = {gateway.api.port}\ntoken = "not-the-token"\n')
        code, out = await health(config)
        assert code == 1
        assert "unhealthy" in out
    finally:
        await gateway.stop()
    config.write_text(f'api_port = {gateway.api.port}\ntoken = "health-token-123"\n')
    code, out = await health(config)  # nothing listens any more
    assert code == 1
    assert "unhealthy" in out
