"""API commands for credentials and for devices waiting for approval (schema 3, docs/protocol.md).

Keys go in and never come out: answers and events name endpoints and identities only.
"""

from __future__ import annotations

import binascii
from typing import Any

import voluptuous as vol

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
