"""The add-on (Home Assistant app) files, checked by the Supervisor's own rules.

The rules are those of the Supervisor's `supervisor/apps/validate.py`, `options.py` and
`validate.py` (read for this, not imported: the Supervisor is not installable here): the required
keys, the slug, version, arch, ports, options schema elements and the build file's image names.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

import lwm2m_gateway
from lwm2m_gateway.config import load_config
from lwm2m_gateway.supervisor import OPTIONS, settings_from_options

ROOT = Path(__file__).parents[2]
ADDON = ROOT / "addon"

RE_SLUG = re.compile(r"^[-_.A-Za-z0-9]+$")
ARCH = {"aarch64", "amd64"}  # the Supervisor's ARCH_ALL
ARCH_DEPRECATED = {"armhf", "armv7", "i386"}  # accepted, with a warning
RE_PORT = re.compile(r"^\d+(?:/tcp|/udp)?$")
RE_SCHEMA_ELEMENT = re.compile(
    r"^(?:|bool|email|url|port|device(?:\((?P<filter>subsystem=[a-z]+)\))?"
    r"|str(?:\((?P<s_min>\d+)?,(?P<s_max>\d+)?\))?"
    r"|password(?:\((?P<p_min>\d+)?,(?P<p_max>\d+)?\))?"
    r"|int(?:\((?P<i_min>-?\d+)?,(?P<i_max>-?\d+)?\))?"
    r"|float(?:\((?P<f_min>-?\d*\.?\d+)?,(?P<f_max>-?\d*\.?\d+)?\))?"
    r"|match\((?P<match>.*)\)|list\((?P<list>.+)\))\??$"
)
RE_DOCKER_IMAGE_BUILD = re.compile(
    r"^([a-zA-Z\-\.:\d{}]+/)*?([\-\w{}]+)/([\-\w{}]+)(:[\.\-\w{}]+)?$"
)
STARTUP = {"initialize", "system", "services", "application", "once"}
BOOT = {"auto", "manual", "manual_only"}


def load(name: str) -> dict:  # type: ignore[type-arg]
    data = yaml.safe_load((ADDON / name).read_text())
    assert isinstance(data, dict), name
    return data


def test_config_has_what_the_supervisor_requires() -> None:
    config = load("config.yaml")
    for key in ("name", "version", "slug", "description", "arch"):
        assert config.get(key), key
    assert RE_SLUG.match(config["slug"])
    assert set(config["arch"]) <= ARCH | ARCH_DEPRECATED
    assert set(config["arch"]) >= ARCH
    assert config["startup"] in STARTUP
    assert config["boot"] in BOOT
    assert config["init"] is False  # the gateway is PID 1's only child; no s6 overlay needed
    assert "lwm2m" in config["discovery"]  # or the Supervisor refuses its discovery (403)
    assert config["hassio_api"] is True


def test_version_is_the_gateways_and_the_packages() -> None:
    config = load("config.yaml")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"]["attr"] == (
        "lwm2m_gateway.__version__"
    )
    assert str(config["version"]) == lwm2m_gateway.__version__
    assert f"## {lwm2m_gateway.__version__}" in (ADDON / "CHANGELOG.md").read_text()


def test_ports_are_udp_coap_and_coaps_and_the_api_is_not_exposed() -> None:
    config = load("config.yaml")
    for port, host in config["ports"].items():
        assert RE_PORT.match(port), port
        assert host is None or 1 <= host <= 65535
    assert set(config["ports"]) == {"5683/udp", "5684/udp"}
    assert set(config["ports_description"]) == set(config["ports"])
    assert not any(port.startswith("8765") for port in config["ports"])


def test_options_match_their_schema_and_the_gateway_understands_them() -> None:
    config = load("config.yaml")
    schema, options = config["schema"], config["options"]
    for key, element in schema.items():
        match = RE_SCHEMA_ELEMENT.match(element)
        assert match, f"{key}: {element}"
        optional = element.endswith("?")
        assert key in options or optional, key
        if key in options and match["list"]:
            assert options[key] in match["list"].split("|"), key
        if key in options and element.rstrip("?") == "bool":
            assert isinstance(options[key], bool), key
    assert set(options) <= set(schema)
    assert set(schema) == set(OPTIONS)  # every option reaches the gateway, and only those


@pytest.mark.parametrize(
    "options",
    [
        {"log_level": "info", "unknown_endpoints": "approve", "public_host": "", "coap": True,
         "coaps": True},
        {"log_level": "debug", "unknown_endpoints": "reject", "public_host": "ha.example.org",
         "coap": False, "coaps": True},
    ],
)  # fmt: skip
def test_every_choice_of_the_schema_makes_a_valid_gateway_config(
    options: dict[str, object], tmp_path: Path
) -> None:
    settings = settings_from_options(options, tmp_path, "x" * 43)
    config = load_config(None, settings)
    assert config.api_host == "0.0.0.0"
    assert config.token == "x" * 43


def test_build_file_names_an_image_for_every_arch() -> None:
    build, config = load("build.yaml"), load("config.yaml")
    assert set(build["build_from"]) == set(config["arch"])
    for image in build["build_from"].values():
        assert RE_DOCKER_IMAGE_BUILD.match(image), image
    dockerfile = (ADDON / "Dockerfile").read_text()
    assert "ARG BUILD_FROM" in dockerfile
    assert "FROM ${BUILD_FROM}" in dockerfile


def test_translations_name_every_option_and_port() -> None:
    translations = load("translations/en.yaml")
    config = load("config.yaml")
    assert set(translations["configuration"]) == set(config["schema"])
    for option in translations["configuration"].values():
        assert option["name"]
    assert set(translations["network"]) == set(config["ports"])


def test_the_repository_is_an_app_repository_with_icon_logo_and_docs() -> None:
    repository = yaml.safe_load((ROOT / "repository.yaml").read_text())
    assert repository["name"]
    assert repository["url"].startswith("https://")
    for name in ("icon.png", "logo.png"):
        assert (ADDON / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert "Configuration" in (ADDON / "DOCS.md").read_text()
    run = (ADDON / "rootfs" / "run.sh").read_text()
    assert "python3 -m lwm2m_gateway.supervisor /data/options.json /data" in run
