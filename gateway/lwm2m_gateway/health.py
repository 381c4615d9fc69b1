"""`python -m lwm2m_gateway.health`: exit 0 when the gateway's API answers, 1 when not.

For container health checks and service monitors: it connects like Home Assistant does (with
the token, if the config file has one) and waits for `server_info`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import aiohttp

from .config import ConfigError, load_config


async def check(url: str, token: str | None) -> str:
    """The gateway id the API at url reports; raises on anything else."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers=headers) as ws:
        info = await ws.receive_json()
        if not isinstance(info, dict) or info.get("type") != "server_info":
            raise ValueError("the API did not answer with server_info")
        return str(info.get("gateway_id"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lwm2m_gateway.health", description=__doc__)
    parser.add_argument("--config", type=Path, help="the gateway's TOML file (port and token)")
    parser.add_argument("--port", type=int, help="the API port (default: the config's)")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, {"api_port": args.port})
    except ConfigError as err:
        print(f"unhealthy: {err}", file=sys.stderr)
        return 1
    host = "127.0.0.1" if config.api_host in ("", "0.0.0.0", "::") else config.api_host
    url = f"http://{host}:{config.api_port}/ws"
    try:
        gateway_id = asyncio.run(asyncio.wait_for(check(url, config.token), args.timeout))
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as err:
        print(f"unhealthy: {url}: {err or type(err).__name__}", file=sys.stderr)
        return 1
    print(f"healthy: gateway {gateway_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
