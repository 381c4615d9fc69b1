"""quality_scale.yaml covers every rule of Home Assistant's quality scale, and brand/ has what
current Home Assistant (2026.3+) reads for a custom integration's icon and logo."""

from __future__ import annotations

from pathlib import Path

import yaml
from PIL import Image

INTEGRATION = Path(__file__).parents[2] / "custom_components" / "lwm2m"
README = Path(__file__).parents[2] / "README.md"

# the rules as hassfest lists them (script/hassfest/quality_scale.py), by tier
RULES = {
    "bronze": ["action-setup", "appropriate-polling", "brands", "common-modules", "config-flow",
               "config-flow-test-coverage", "dependency-transparency", "docs-actions",
               "docs-conditions", "docs-high-level-description", "docs-installation-instructions",
               "docs-removal-instructions", "docs-triggers", "entity-event-setup",
               "entity-unique-id", "has-entity-name", "runtime-data", "test-before-configure",
               "test-before-setup", "unique-config-entry"],
    "silver": ["action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
               "docs-installation-parameters", "entity-unavailable", "integration-owner",
               "log-when-unavailable", "parallel-updates", "reauthentication-flow",
               "test-coverage"],
    "gold": ["devices", "diagnostics", "discovery", "discovery-update-info", "docs-data-update",
             "docs-examples", "docs-known-limitations", "docs-supported-devices",
             "docs-supported-functions", "docs-troubleshooting", "docs-use-cases",
             "dynamic-devices", "entity-category", "entity-device-class",
             "entity-disabled-by-default", "entity-translations", "exception-translations",
             "icon-translations", "reconfiguration-flow", "repair-issues", "stale-devices"],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}  # fmt: skip


def test_every_rule_up_to_gold_is_done_or_exempt_with_a_reason() -> None:
    rules = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text())["rules"]
    every = [rule for tier in RULES.values() for rule in tier]
    assert set(rules) == set(every)
    for rule in RULES["bronze"] + RULES["silver"] + RULES["gold"]:
        status = rules[rule]
        if isinstance(status, dict):
            assert status["status"] == "exempt", rule
            assert status["comment"], rule
        else:
            assert status == "done", rule
    assert "up to **gold**" in README.read_text()


def test_brand_images_are_there_at_their_sizes() -> None:
    brand = INTEGRATION / "brand"
    sizes = {name: Image.open(brand / name).size for name in
             ("icon.png", "icon@2x.png", "logo.png", "logo@2x.png", "dark_logo.png",
              "dark_logo@2x.png")}  # fmt: skip
    assert sizes["icon.png"] == (256, 256)
    assert sizes["icon@2x.png"] == (512, 512)
    for name in ("logo.png", "dark_logo.png"):
        assert 128 <= min(sizes[name]) <= 256, name
        assert sizes[name.replace(".png", "@2x.png")] == tuple(2 * x for x in sizes[name])
