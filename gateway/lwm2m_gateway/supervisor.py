"""Running as a Home Assistant app (add-on): the Supervisor's options become the gateway's
settings, and the gateway announces itself so the integration sets itself up in one click.

The Supervisor writes the user's options to /data/options.json and gives the app a token
(`SUPERVISOR_TOKEN`) for its API; an app that lists a service under `discovery` in its
config.yaml may POST that service to http://supervisor/discovery, and Home Assistant then offers
the integration of that domain (here `lwm2m`) with the config it carries.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

from .config import ConfigError, load_config

_LOGGER = logging.getLogger(__name__)
SERVICE = "lwm2m"  # the integration's domain
SUPERVISOR_URL = "http://supervisor"
API_PORT = 8765  # reached by Home Assistant over the Supervisor's internal network only
TOKEN_FILE = "api_token"

# option -> (gateway setting, type); everything else about the app is fixed
OPTIONS: dict[str, tuple[str, type]] = {
    "log_level": ("log_level", str),
    "unknown_endpoints": ("unknown_endpoints", str),
    "public_host": ("public_host", str),
    "coap": ("coap_enabled", bool),
    "coaps": ("coaps_enabled", bool),
}


def settings_from_options(options: dict[str, Any], data_dir: Path, token: str) -> dict[str, Any]:
    """The gateway's settings for the app's options. Ports stay the standard ones inside the
    container (users map them on the app's Network tab); the API listens on every address of
    the app's internal network, with the app's own token."""
    if not isinstance(options, dict):
        raise ConfigError("options: expected an object")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"options: unknown option {unknown[0]}")
    settings: dict[str, Any] = {
        "coap_host": "0.0.0.0",
        "coap_port": 5683,
        "coaps_port": 5684,
        "api_host": "0.0.0.0",
        "api_port": API_PORT,
        "token": token,
        "data_dir": str(data_dir),
        "announce": False,  # the Supervisor's discovery replaces mDNS here
    }
    for option, value in options.items():
        setting, kind = OPTIONS[option]
        if not isinstance(value, kind):
            raise ConfigError(f"options.{option}: expected {kind.__name__}")
        if value == "" and kind is str:
            continue  # an empty text field means "not set"
        settings[setting] = value
    return settings


def to_toml(settings: dict[str, Any]) -> str:
    """The settings as a TOML file (flat: strings, numbers, booleans)."""
    lines = []
    for key, value in sorted(settings.items()):
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float):
            text = repr(value)
        elif isinstance(value, str):
            text = json.dumps(value)  # a JSON string is a valid TOML basic string
        else:
            raise ConfigError(f"{key}: cannot be written to TOML")
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def app_token(data_dir: Path) -> str:
    """The API token, made once and kept in the app's data (0600): never typed by anyone."""
    path = data_dir / TOKEN_FILE
    try:
        token = path.read_text().strip()
        if len(token) >= 32:
            return token
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(32)
    _write_private(path, token + "\n")
    return token


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (it holds the API token)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)


def write_config(options_file: Path, data_dir: Path, config_file: Path) -> None:
    """/data/options.json -> the gateway's TOML config (the app's start script calls this)."""
    try:
        options = json.loads(options_file.read_text())
    except OSError as err:
        raise ConfigError(f"{options_file}: {err.strerror}") from err
    except json.JSONDecodeError as err:
        raise ConfigError(f"{options_file}: not JSON ({err})") from err
    settings = settings_from_options(options, data_dir, app_token(data_dir))
    load_config(None, settings)  # refused here, naming the option, before anything is written
    _write_private(config_file, to_toml(settings))


async def announce(
    token: str, gateway_id: str, port: int, supervisor: str = SUPERVISOR_URL
) -> bool:
    """Tell the Supervisor where the gateway's API is (POST /discovery); True when accepted.
    Only inside an app: without SUPERVISOR_TOKEN there is nobody to tell."""
    supervisor_token = os.environ.get("SUPERVISOR_TOKEN")
    if not supervisor_token:
        return False
    body = {
        "service": SERVICE,
        "config": {
            "host": socket.gethostname(),  # the app's name on the Supervisor's network
            "port": port,
            "token": token,
            "gateway_id": gateway_id,
        },
    }
    headers = {"Authorization": f"Bearer {supervisor_token}"}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{supervisor}/discovery", json=body, headers=headers) as response,
        ):
            if response.status != 200:
                _LOGGER.warning("The Supervisor refused the discovery: HTTP %d", response.status)
                return False
    except (aiohttp.ClientError, OSError, TimeoutError) as err:
        _LOGGER.warning("Cannot reach the Supervisor for discovery: %s", err)
        return False
    _LOGGER.info("Announced to the Supervisor as service %s", SERVICE)
    return True


def main(argv: list[str] | None = None) -> int:
    """python -m lwm2m_gateway.supervisor OPTIONS_JSON DATA_DIR CONFIG_TOML"""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print(f"usage: {main.__doc__}", file=sys.stderr)
        return 2
    try:
        write_config(Path(args[0]), Path(args[1]), Path(args[2]))
    except ConfigError as err:
        print(f"lwm2m-gateway app: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
