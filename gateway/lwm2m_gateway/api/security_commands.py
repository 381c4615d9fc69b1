"""API commands for credentials, devices waiting for approval and bootstrap (schema 3).

Keys go in and never come out: answers and events name endpoints and identities only.
"""

from __future__ import annotations

import binascii
from typing import Any

import voluptuous as vol

from ..lwm2m.paths import Path
from .commands import ENDPOINT, CommandContext, command
from .messages import ApiError

HEX_KEY = vol.All(str, vol.Length(min=2, max=128))


@command(
    "set_credentials",
    {
        vol.Required("endpoint"): ENDPOINT,
        vol.Required("identity"): vol.All(str, vol.Length(min=1, max=128)),
        vol.Required("key"): HEX_KEY,
        vol.Optional("mode", default="psk"): vol.In(("psk",)),
    },
)
async def set_credentials(ctx: CommandContext, args: dict[str, Any]) -> Any:
    try:
        key = bytes.fromhex(args["key"])
    except (ValueError, binascii.Error) as err:
        raise ApiError("invalid_args", "key: expected hexadecimal digits", field="key") from err
    credential = ctx.server.security.set(args["endpoint"], args["identity"], key)
    ctx.server.admission.forget(args["endpoint"])  # credentials make it known from now on
    return {"endpoint": credential.endpoint, "identity": credential.identity, "mode": "psk"}


@command("remove_credentials", {vol.Required("endpoint"): ENDPOINT})
async def remove_credentials(ctx: CommandContext, args: dict[str, Any]) -> Any:
    ctx.server.security.remove(args["endpoint"])
    return {}


@command("list_credentials", {})
async def list_credentials(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return {"credentials": ctx.server.security.listing()}


@command("list_pending", {})
async def list_pending(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return {"pending": ctx.server.admission.pending(), "policy": ctx.server.admission.policy}


@command("approve_endpoint", {vol.Required("endpoint"): ENDPOINT})
async def approve_endpoint(ctx: CommandContext, args: dict[str, Any]) -> Any:
    waiting = ctx.server.registrations.approve(args["endpoint"])
    return {"endpoint": args["endpoint"], "registered": waiting}


@command("reject_endpoint", {vol.Required("endpoint"): ENDPOINT})
async def reject_endpoint(ctx: CommandContext, args: dict[str, Any]) -> Any:
    ctx.server.registrations.reject(args["endpoint"])
    return {"endpoint": args["endpoint"]}


@command(
    "set_bootstrap_config",
    {
        vol.Required("endpoint"): ENDPOINT,
        vol.Optional("lifetime"): vol.All(int, vol.Range(min=1)),
        vol.Optional("binding"): vol.All(str, vol.Length(min=1, max=5)),
        vol.Optional("notification_storing"): bool,
    },
)
async def set_bootstrap_config(ctx: CommandContext, args: dict[str, Any]) -> Any:
    settings = {k: v for k, v in args.items() if k != "endpoint"}
    return ctx.server.bootstrap.set_config(args["endpoint"], settings)


@command("get_bootstrap_config", {vol.Required("endpoint"): ENDPOINT})
async def get_bootstrap_config(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return ctx.server.bootstrap.config_of(args["endpoint"])


@command("rebootstrap", {vol.Required("endpoint"): ENDPOINT})
async def rebootstrap(ctx: CommandContext, args: dict[str, Any]) -> Any:
    """Execute the Server object's Bootstrap-Request Trigger (/1/x/9): the device bootstraps
    again (and gets its current credentials)."""
    endpoint = args["endpoint"]
    registration = ctx.server.registrations.get(endpoint).registration
    entry = registration.objects.get(1)
    if entry is None:
        raise ApiError("not_supported", f"{endpoint} has no Server object (1)")
    instance = entry.instances[0] if entry.instances else 0
    await ctx.server.device.execute(endpoint, Path(1, instance, 9))
    return {"endpoint": endpoint, "path": f"/1/{instance}/9"}
