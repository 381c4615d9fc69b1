"""`lwm2m-gateway`: run the gateway until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from .app import Gateway, quiet_coap_shutdown
from .coap import quiet_coap_logs
from .config import ConfigError, load_config
from .server.transport import ListenError
from .store import StoreError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lwm2m-gateway", description=__doc__)
    parser.add_argument("--config", type=Path, help="a TOML file with the settings below")
    parser.add_argument("--coap-host", help="UDP address devices reach (default 127.0.0.1)")
    parser.add_argument("--coap-port", type=int, help="UDP port, 0 for any (default 5683)")
    parser.add_argument(
        "--public-host", help="the host devices must use to reach the gateway (bootstrap, firmware)"
    )
    parser.add_argument(
        "--coaps-port", type=int, help="DTLS-PSK (coaps) port, 0 for any (default 5684)"
    )
    parser.add_argument(
        "--coap", dest="coap_enabled", action=argparse.BooleanOptionalAction, default=None,
        help="listen for plain CoAP (default: yes)",
    )  # fmt: skip
    parser.add_argument(
        "--coaps", dest="coaps_enabled", action=argparse.BooleanOptionalAction, default=None,
        help="listen for CoAP over DTLS-PSK (default: yes)",
    )  # fmt: skip
    parser.add_argument(
        "--unknown-endpoints", choices=("accept", "approve", "reject"),
        help="devices without credentials or approval (default: accept on loopback, else approve)",
    )  # fmt: skip
    parser.add_argument("--api-host", help="WebSocket API address (default 127.0.0.1)")
    parser.add_argument("--api-port", type=int, help="WebSocket API port, 0 for any (default 8765)")
    parser.add_argument("--data-dir", help="where state is kept (default ./data)")
    parser.add_argument("--objects-dir", help="a directory of extra DDF XML object definitions")
    parser.add_argument("--token", help="require this bearer token from API clients")
    parser.add_argument(
        "--announce",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="announce the API over mDNS (default: when the API host is not loopback)",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR")
    return parser.parse_args(argv)


async def run(gateway: Gateway) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    quiet_coap_shutdown(loop)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await gateway.start()
    except BaseException:
        await gateway.stop()  # what did start is closed again, the store too
        raise
    await stop.wait()
    logging.getLogger("lwm2m_gateway").info("Stopping")
    await gateway.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides = {
        key: getattr(args, key)
        for key in ("coap_host", "public_host", "coap_port", "coaps_port", "coap_enabled", "coaps_enabled",
                    "unknown_endpoints", "api_host", "api_port", "data_dir", "objects_dir",
                    "token", "announce", "log_level")
    }  # fmt: skip
    try:
        config = load_config(args.config, overrides)
    except ConfigError as err:
        print(f"lwm2m-gateway: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    quiet_coap_logs(logging.getLevelName(config.log_level))
    try:
        gateway = Gateway(config)
    except StoreError as err:
        print(f"lwm2m-gateway: {err}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(gateway))
    except ListenError as err:
        print(f"lwm2m-gateway: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the API's port
        print(f"lwm2m-gateway: cannot listen for the API: {err.strerror or err}", file=sys.stderr)
        return 2
    finally:
        gateway.lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
