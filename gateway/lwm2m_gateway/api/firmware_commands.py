"""API commands for firmware images and updates (schema 2, docs/protocol.md)."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path as FilePath
from typing import Any

import voluptuous as vol

from ..server.firmware_updates import FirmwareUpdates
from .commands import ENDPOINT, CommandContext, command
from .messages import ApiError


def _firmware(ctx: CommandContext) -> FirmwareUpdates:
    if ctx.firmware is None:
        raise ApiError("not_supported", "firmware updates are not enabled on this gateway")
    return ctx.firmware


@command(
    "firmware_add_image",
    {
        vol.Exclusive("file", "source"): str,
        vol.Exclusive("data", "source"): str,
        vol.Required("version"): vol.All(str, vol.Length(min=1)),
        vol.Optional("release_notes"): str,
        vol.Optional("endpoints", default=list): [str],
        vol.Optional("manufacturer"): str,
        vol.Optional("model"): str,
    },
)
async def firmware_add_image(ctx: CommandContext, args: dict[str, Any]) -> Any:
    catalogue = _firmware(ctx).catalogue
    names = ("version", "release_notes", "manufacturer", "model")
    options: dict[str, Any] = {k: args[k] for k in names if k in args}
    options["endpoints"] = args["endpoints"]
    if "file" in args:
        import_dir = _firmware(ctx).settings.import_dir
        image = await catalogue.add_file(FilePath(args["file"]), import_dir, **options)
    elif "data" in args:
        try:
            data = base64.b64decode(args["data"], validate=True)
        except (binascii.Error, ValueError) as err:
            raise ApiError("invalid_args", "data: not base64") from err
        image = catalogue.add(data, **options)
    else:
        raise ApiError("invalid_args", "file or data: one is required")
    _firmware(ctx).images_changed()
    return image.to_json()


@command("firmware_list_images", {})
async def firmware_list_images(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return {"images": [image.to_json() for image in _firmware(ctx).catalogue.images()]}


@command("firmware_remove_image", {vol.Required("image_id"): str})
async def firmware_remove_image(ctx: CommandContext, args: dict[str, Any]) -> Any:
    _firmware(ctx).catalogue.remove(args["image_id"])
    _firmware(ctx).images_changed()
    return {}


@command(
    "firmware_update",
    {
        vol.Required("endpoint"): ENDPOINT,
        vol.Optional("image_id"): str,
        vol.Optional("method"): vol.In(("pull", "push")),
    },
)
async def firmware_update(ctx: CommandContext, args: dict[str, Any]) -> Any:
    job = await _firmware(ctx).start(args["endpoint"], args.get("image_id"), args.get("method"))
    return job.to_json()


@command("firmware_cancel", {vol.Required("endpoint"): ENDPOINT})
async def firmware_cancel(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return (await _firmware(ctx).cancel(args["endpoint"])).to_json()


@command("firmware_reset", {vol.Required("endpoint"): ENDPOINT})
async def firmware_reset(ctx: CommandContext, args: dict[str, Any]) -> Any:
    await _firmware(ctx).reset(args["endpoint"])
    return {}


@command("firmware_status", {vol.Optional("endpoint"): ENDPOINT})
async def firmware_status(ctx: CommandContext, args: dict[str, Any]) -> Any:
    jobs = _firmware(ctx).jobs
    if "endpoint" in args:
        job = jobs.get(args["endpoint"])
        return {"jobs": [] if job is None else [job.to_json()]}
    return {"jobs": [job.to_json() for job in jobs.values()]}
