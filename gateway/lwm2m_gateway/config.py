"""Gateway settings from the command line and an optional TOML file, validated with voluptuous."""

from __future__ import annotations

import ipaddress
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import voluptuous as vol

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PORT = vol.All(int, vol.Range(min=0, max=65535))

SCHEMA = vol.Schema(
    {
        vol.Optional("coap_host", default="127.0.0.1"): str,
        vol.Optional("public_host", default=None): vol.Any(None, vol.All(str, vol.Length(min=1))),
        vol.Optional("coap_port", default=5683): PORT,
        vol.Optional("coaps_port", default=5684): PORT,
        vol.Optional("coap_enabled", default=True): bool,
        vol.Optional("coaps_enabled", default=True): bool,
        vol.Optional("unknown_endpoints", default=None): vol.Any(
            None, vol.In(("accept", "approve", "reject"))
        ),
        vol.Optional("max_endpoints", default=20000): vol.All(int, vol.Range(min=1)),
        vol.Optional("max_pending", default=32): vol.All(int, vol.Range(min=1, max=10000)),
        vol.Optional("inventory_concurrency", default=32): vol.All(int, vol.Range(min=1)),
        vol.Optional("inventory_rate", default=100.0): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Optional("inventory_valid_for", default=3600.0): vol.All(
            vol.Coerce(float), vol.Range(min=0)
        ),
        # no longer used (every registered device is inventoried, paced): accepted, ignored
        vol.Optional("inventory_queue"): vol.All(int, vol.Range(min=0)),
        vol.Optional("watchdog_interval", default=60.0): vol.All(
            vol.Coerce(float), vol.Range(min=0.1)
        ),
        vol.Optional("observation_silence", default=3600.0): vol.All(
            vol.Coerce(float), vol.Range(min=0)
        ),
        vol.Optional("register_rate", default=120.0): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Optional("api_host", default="127.0.0.1"): str,
        vol.Optional("api_port", default=8765): PORT,
        vol.Optional("data_dir", default="./data"): str,
        vol.Optional("objects_dir", default=None): vol.Any(None, str),
        vol.Optional("token", default=None): vol.Any(None, vol.All(str, vol.Length(min=8))),
        vol.Optional("announce", default=None): vol.Any(None, bool),
        vol.Optional("firmware_block_size", default=1024): vol.In(
            (16, 32, 64, 128, 256, 512, 1024)
        ),
        vol.Optional("firmware_push_timeout", default=600.0): vol.All(
            vol.Coerce(float), vol.Range(min=1)
        ),
        vol.Optional("firmware_download_timeout", default=3600.0): vol.All(
            vol.Coerce(float), vol.Range(min=0.1)
        ),
        vol.Optional("firmware_update_timeout", default=900.0): vol.All(
            vol.Coerce(float), vol.Range(min=0.1)
        ),
        vol.Optional("firmware_dir", default=None): vol.Any(None, vol.All(str, vol.Length(min=1))),
        vol.Optional("log_level", default="INFO"): vol.All(str, vol.Upper, vol.In(LOG_LEVELS)),
        vol.Optional("queue_timeout", default=300.0): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Optional("request_timeout", default=30.0): vol.All(
            vol.Coerce(float), vol.Range(min=0.1)
        ),
    },
    extra=vol.PREVENT_EXTRA,
)


class ConfigError(Exception):
    """A setting that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    coap_host: str
    public_host: str | None
    coap_port: int
    coaps_port: int
    coap_enabled: bool
    coaps_enabled: bool
    unknown_endpoints: str
    max_endpoints: int
    max_pending: int
    register_rate: float
    inventory_concurrency: int
    inventory_rate: float
    inventory_valid_for: float
    watchdog_interval: float
    observation_silence: float
    api_host: str
    api_port: int
    data_dir: Path
    objects_dir: Path | None
    token: str | None
    announce: bool
    firmware_block_size: int
    firmware_push_timeout: float
    firmware_download_timeout: float
    firmware_update_timeout: float
    firmware_dir: Path
    log_level: str
    queue_timeout: float
    request_timeout: float


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_config(file: Path | None, overrides: dict[str, Any]) -> GatewayConfig:
    """File settings, then command-line overrides (None means not given), validated together."""
    raw: dict[str, Any] = {}
    if file is not None:
        try:
            raw = tomllib.loads(file.read_text())
        except OSError as err:
            raise ConfigError(f"config file {file}: {err.strerror}") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"config file {file}: {err}") from err
    raw.update({key: value for key, value in overrides.items() if value is not None})
    try:
        valid = SCHEMA(raw)
    except vol.MultipleInvalid as err:
        first = err.errors[0]
        field = ".".join(str(p) for p in first.path) or "config"
        raise ConfigError(f"{field}: {first.msg}") from err
    if not _is_loopback(valid["api_host"]) and valid["token"] is None:
        raise ConfigError(
            f"api_host: {valid['api_host']} is not loopback; set a token (--token) to expose the API"
        )
    if not valid["coap_enabled"] and not valid["coaps_enabled"]:
        raise ConfigError("coap_enabled, coaps_enabled: at least one CoAP listener is needed")
    if "inventory_queue" in valid:
        logging.getLogger(__name__).warning(
            "inventory_queue is no longer used: every registered device is inventoried, "
            "paced by inventory_rate and inventory_concurrency"
        )
    return GatewayConfig(
        coap_host=valid["coap_host"],
        public_host=valid["public_host"],
        coap_port=valid["coap_port"],
        coaps_port=valid["coaps_port"],
        coap_enabled=valid["coap_enabled"],
        coaps_enabled=valid["coaps_enabled"],
        # devices that reach the gateway from other hosts wait for approval unless told
        unknown_endpoints=valid["unknown_endpoints"]
        or ("accept" if _is_loopback(valid["coap_host"]) else "approve"),
        max_endpoints=valid["max_endpoints"],
        max_pending=valid["max_pending"],
        register_rate=valid["register_rate"],
        inventory_concurrency=valid["inventory_concurrency"],
        inventory_rate=valid["inventory_rate"],
        inventory_valid_for=valid["inventory_valid_for"],
        watchdog_interval=valid["watchdog_interval"],
        observation_silence=valid["observation_silence"],
        api_host=valid["api_host"],
        api_port=valid["api_port"],
        data_dir=Path(valid["data_dir"]),
        objects_dir=Path(valid["objects_dir"]) if valid["objects_dir"] else None,
        token=valid["token"],
        # mDNS by default only when other hosts can reach the API
        announce=valid["announce"]
        if valid["announce"] is not None
        else not _is_loopback(valid["api_host"]),
        firmware_block_size=valid["firmware_block_size"],
        firmware_push_timeout=valid["firmware_push_timeout"],
        firmware_download_timeout=valid["firmware_download_timeout"],
        firmware_update_timeout=valid["firmware_update_timeout"],
        firmware_dir=Path(valid["firmware_dir"])
        if valid["firmware_dir"]
        else Path(valid["data_dir"]) / "firmware-import",
        log_level=valid["log_level"],
        queue_timeout=valid["queue_timeout"],
        request_timeout=valid["request_timeout"],
    )
