"""The gateway as a Home Assistant app: options to settings, its own token, Supervisor discovery."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from lwm2m_gateway import supervisor
from lwm2m_gateway.config import ConfigError, load_config

OPTIONS = {"log_level": "warning", "unknown_endpoints": "approve", "public_host": "ha.local",
           "coap": True, "coaps": False}  # fmt: skip


def test_the_options_file_becomes_a_config_with_a_token_made_once(tmp_path: Path) -> None:
    options = tmp_path / "options.json"
    options.write_text(json.dumps(OPTIONS))
    config_file = tmp_path / "gateway.toml"
    assert supervisor.main([str(options), str(tmp_path), str(config_file)]) == 0
    config = load_config(config_file, {})
    assert (config.log_level, config.unknown_endpoints, config.public_host) == (
        "WARNING", "approve", "ha.local",
    )  # fmt: skip
    assert (config.coap_enabled, config.coaps_enabled) == (True, False)
    assert (config.api_host, config.api_port, config.data_dir) == ("0.0.0.0", 8765, tmp_path)
    token = (tmp_path / supervisor.TOKEN_FILE).read_text().strip()
    assert config.token == token
    assert len(token) >= 32
    for secret in (config_file, tmp_path / supervisor.TOKEN_FILE):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    # a restart keeps the token Home Assistant was given
    assert supervisor.main([str(options), str(tmp_path), str(config_file)]) == 0
    assert load_config(config_file, {}).token == token


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({**OPTIONS, "colour": "red"}, "options: unknown option colour"),
        ({**OPTIONS, "coap": "yes"}, "options.coap: expected bool"),
        ({**OPTIONS, "unknown_endpoints": "maybe"}, "unknown_endpoints"),
        ({**OPTIONS, "coap": False, "coaps": False}, "coap_enabled, coaps_enabled"),
        ([1, 2], "options: expected an object"),
    ],
)
def test_bad_options_are_refused_naming_the_option_and_nothing_is_written(
    tmp_path: Path, options: Any, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    options_file = tmp_path / "options.json"
    options_file.write_text(json.dumps(options))
    config_file = tmp_path / "gateway.toml"
    assert supervisor.main([str(options_file), str(tmp_path), str(config_file)]) == 2
    assert named in capsys.readouterr().err
    assert not config_file.exists()


def test_an_unreadable_options_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "options.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not JSON"):
        supervisor.write_config(tmp_path / "options.json", tmp_path, tmp_path / "g.toml")
    with pytest.raises(ConfigError, match="No such file"):
        supervisor.write_config(tmp_path / "missing.json", tmp_path, tmp_path / "g.toml")


async def test_discovery_is_posted_to_the_supervisor_with_its_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def discovery(request: web.Request) -> web.Response:
        received.append((request.headers.get("Authorization"), await request.json()))
        return web.json_response({"result": "ok", "data": {"uuid": "0" * 32}})

    app = web.Application()
    app.router.add_post("/discovery", discovery)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    try:
        assert not await supervisor.announce("api-token", "gw-1", 8765, url)  # not in an app
        monkeypatch.setenv("SUPERVISOR_TOKEN", "supervisor-secret")
        assert await supervisor.announce("api-token", "gw-1", 8765, url)
    finally:
        await runner.cleanup()
    ((authorization, body),) = received
    assert authorization == "Bearer supervisor-secret"
    assert body["service"] == "lwm2m"
    assert body["config"]["port"] == 8765
    assert body["config"]["token"] == "api-token"
    assert body["config"]["gateway_id"] == "gw-1"
    assert isinstance(body["config"]["host"], str)
    # a Supervisor that is not there costs a warning, not the start
    assert not await supervisor.announce("api-token", "gw-1", 8765, url)
