"""Devices waiting for the gateway owner's approval, shown as fixable repair issues; and
bootstrap failures, shown as repair issues naming the device and the step that failed.

A device behind an existing hub is not a new integration to discover, so a pending device is a
repair issue on the gateway entry ("New LwM2M device <name> wants to join") whose fix flow
approves or rejects it (repairs.py). Issues follow the gateway: created for every pending
device it reports, deleted when it is decided (here or elsewhere).
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN

PREFIX = "pending_"


def issue_id(entry: ConfigEntry[Any], endpoint: str) -> str:
    return f"{PREFIX}{entry.entry_id}_{endpoint}"


@callback
def async_show_pending(hass: HomeAssistant, entry: ConfigEntry[Any], data: dict[str, Any]) -> None:
    endpoint = str(data["endpoint"])
    objects = ", ".join(str(o) for o in data.get("objects", [])) or "none"
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(entry, endpoint),
        is_fixable=True,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="pending_device",
        translation_placeholders={
            "endpoint": endpoint,
            "address": str(data.get("address", "")),
            "objects": objects,
            "security": str(data.get("security", "nosec")),
        },
        data={"entry_id": entry.entry_id, "endpoint": endpoint},
    )


@callback
def async_resolve_pending(hass: HomeAssistant, entry: ConfigEntry[Any], endpoint: str) -> None:
    ir.async_delete_issue(hass, DOMAIN, issue_id(entry, endpoint))


@callback
def async_sync_pending(
    hass: HomeAssistant, entry: ConfigEntry[Any], pending: list[dict[str, Any]]
) -> None:
    """After (re)connecting: exactly the gateway's pending devices have issues."""
    wanted = {issue_id(entry, str(p["endpoint"])): p for p in pending}
    prefix = f"{PREFIX}{entry.entry_id}_"
    registry = ir.async_get(hass)
    for domain, existing in list(registry.issues):
        if domain == DOMAIN and existing.startswith(prefix) and existing not in wanted:
            ir.async_delete_issue(hass, DOMAIN, existing)
    for data in pending:
        async_show_pending(hass, entry, data)


def bootstrap_issue_id(entry: ConfigEntry[Any], endpoint: str) -> str:
    return f"bootstrap_failed_{entry.entry_id}_{endpoint}"


@callback
def async_show_bootstrap_failure(
    hass: HomeAssistant, entry: ConfigEntry[Any], data: dict[str, Any]
) -> None:
    endpoint = str(data["endpoint"])
    ir.async_create_issue(
        hass,
        DOMAIN,
        bootstrap_issue_id(entry, endpoint),
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="bootstrap_failed",
        translation_placeholders={
            "endpoint": endpoint,
            "step": str(data.get("step", "")),
            "reason": str(data.get("reason", "")),
        },
    )


@callback
def async_resolve_bootstrap_failure(
    hass: HomeAssistant, entry: ConfigEntry[Any], endpoint: str
) -> None:
    ir.async_delete_issue(hass, DOMAIN, bootstrap_issue_id(entry, endpoint))
