"""The API commands: each validates its args (voluptuous) and calls the LwM2M server.

Registered with `@command(name, schema)`; errors are ApiError or the server's Lwm2mError, which
the connection turns into failure results.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import voluptuous as vol

from ..lwm2m.errors import Lwm2mError
from ..lwm2m.model import ObjectRegistry
from ..lwm2m.paths import InvalidPath, Path, PathLevel
from ..lwm2m.values import Record, ResourceType, Value, coerce, to_json
from ..server import Lwm2mServer
from ..server.firmware_updates import FirmwareUpdates
from .messages import ApiError

Handler = Callable[["CommandContext", dict[str, Any]], Awaitable[Any]]
COMMANDS: dict[str, tuple[vol.Schema, Handler]] = {}


@dataclass(slots=True)
class CommandContext:
    server: Lwm2mServer
    start_listening: Callable[[bool], None]

    @property
    def registry(self) -> ObjectRegistry:
        return self.server.registry

    @property
    def firmware(self) -> FirmwareUpdates | None:
        return self.server.firmware


def command(name: str, schema: dict[Any, Any]) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[name] = (vol.Schema(schema), handler)
        return handler

    return register


def _path(value: Any) -> Path:
    if not isinstance(value, str):
        raise vol.Invalid("expected a path string such as /3303/0/5700")
    try:
        return Path.parse(value)
    except InvalidPath as err:
        raise vol.Invalid(str(err)) from err


ENDPOINT = vol.All(str, vol.Length(min=1))
PATH = _path
NUMBER_OR_NONE = vol.Any(None, vol.Coerce(float))


def _records(ctx: CommandContext, endpoint: str, values: dict[Path, Any]) -> list[Record]:
    """Type JSON values by the model (with the object version the device announced)."""
    versions = ctx.server.registrations.get(endpoint).registration.object_versions()
    records = []
    for path, raw in values.items():
        if path.level < PathLevel.RESOURCE:
            raise ApiError("invalid_args", f"values: {path} is not a resource path")
        model = ctx.registry.resource(path.object_id or 0, path.resource_id or 0,
                                      versions.get(path.object_id or 0))  # fmt: skip
        if isinstance(raw, dict) and path.level is PathLevel.RESOURCE:
            for riid, item in raw.items():
                if not str(riid).isdigit():
                    raise ApiError(
                        "invalid_args", f"values: {path}: {riid!r} is not an instance id"
                    )
                records.append(Record(path.child(int(riid)), _typed(model, item, path)))
        else:
            records.append(Record(path, _typed(model, raw, path)))
    return records


def _typed(model: Any, raw: Any, path: Path) -> Value:
    field = f"value of {path}"
    try:
        if model is not None and model.type is not ResourceType.NONE:
            return coerce(raw, model.type, field=field)
        if isinstance(raw, str | int | float | bool):
            return raw
    except ValueError as err:
        raise ApiError("invalid_args", str(err), path=str(path)) from err
    raise ApiError("invalid_args", f"{field}: {raw!r} cannot be typed", path=str(path))


def _records_json(records: list[Record]) -> dict[str, Any]:
    return {
        "values": [
            {"path": str(r.path), "value": to_json(r.value), "timestamp": r.time} for r in records
        ]
    }


def _paths(args: dict[str, Any]) -> list[Path]:
    if "paths" in args:
        if not args["paths"]:
            raise ApiError("invalid_args", "paths: expected at least one path")
        return list(args["paths"])
    if "path" in args:
        return [args["path"]]
    raise ApiError("invalid_args", "path: required (or paths for a composite request)")


def endpoint_json(ctx: CommandContext, endpoint: str) -> dict[str, Any]:
    """The API's endpoint object: the server's, plus firmware availability (schema 2)."""
    data = ctx.server.registrations.describe(endpoint)
    if ctx.firmware is not None:
        data["firmware"] = ctx.firmware.endpoint_json(endpoint)
    return data


@command("start_listening", {vol.Optional("coalesce", default=False): bool})
async def start_listening(ctx: CommandContext, args: dict[str, Any]) -> Any:
    ctx.start_listening(args["coalesce"])
    return {"endpoints": [endpoint_json(ctx, n) for n in ctx.server.registrations.names()]}


@command("get_endpoint", {vol.Required("endpoint"): ENDPOINT})
async def get_endpoint(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return endpoint_json(ctx, args["endpoint"])


PATHS = {vol.Optional("path"): PATH, vol.Optional("paths"): [PATH]}


@command("read", {vol.Required("endpoint"): ENDPOINT, **PATHS})
async def read(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return _records_json(await ctx.server.device.read(args["endpoint"], _paths(args)))


@command(
    "write",
    {
        vol.Required("endpoint"): ENDPOINT,
        vol.Optional("path"): PATH,
        vol.Optional("value"): object,
        vol.Optional("values"): dict,
        vol.Optional("replace", default=False): bool,
    },
)
async def write(ctx: CommandContext, args: dict[str, Any]) -> Any:
    endpoint, path = args["endpoint"], args.get("path")
    if path is None:  # composite: {"/3311/0/5850": true, ...}
        if "values" not in args:
            raise ApiError("invalid_args", "values: required for a composite write (no path)")
        values = {_path(k): v for k, v in args["values"].items()}
        await ctx.server.device.write(
            endpoint, None, _records(ctx, endpoint, values), replace=False
        )
        return {}
    if "value" in args:
        if path.level < PathLevel.RESOURCE:
            raise ApiError("invalid_args", f"value: {path} is not a resource; use values")
        records = _records(ctx, endpoint, {path: args["value"]})
    elif "values" in args:
        if path.level is not PathLevel.INSTANCE:
            raise ApiError("invalid_args", f"values: {path} is not an object instance")
        values = {}
        for key, value in args["values"].items():
            if not str(key).isdigit():
                raise ApiError("invalid_args", f"values: {key!r} is not a resource id")
            values[path.child(int(key))] = value
        records = _records(ctx, endpoint, values)
    else:
        raise ApiError("invalid_args", "value (or values) is required")
    await ctx.server.device.write(endpoint, path, records, replace=args["replace"])
    return {}


@command(
    "execute",
    {vol.Required("endpoint"): ENDPOINT, vol.Required("path"): PATH, vol.Optional("args"): str},
)
async def execute(ctx: CommandContext, args: dict[str, Any]) -> Any:
    if args["path"].level is not PathLevel.RESOURCE:
        raise ApiError("invalid_args", f"path: {args['path']} is not a resource")
    await ctx.server.device.execute(args["endpoint"], args["path"], args.get("args"))
    return {}


@command("discover", {vol.Required("endpoint"): ENDPOINT, vol.Required("path"): PATH})
async def discover(ctx: CommandContext, args: dict[str, Any]) -> Any:
    links = await ctx.server.device.discover(args["endpoint"], args["path"])
    return {"links": [{"path": str(path), "attributes": attrs} for path, attrs in links]}


ATTRIBUTES = ("pmin", "pmax", "gt", "lt", "st", "epmin", "epmax")


@command(
    "write_attributes",
    {
        vol.Required("endpoint"): ENDPOINT,
        vol.Required("path"): PATH,
        **{vol.Optional(name): NUMBER_OR_NONE for name in ATTRIBUTES},
    },
)
async def write_attributes(ctx: CommandContext, args: dict[str, Any]) -> Any:
    attributes = {name: args[name] for name in ATTRIBUTES if name in args}
    if not attributes:
        raise ApiError("invalid_args", f"give at least one of {', '.join(ATTRIBUTES)}")
    await ctx.server.device.write_attributes(args["endpoint"], args["path"], attributes)
    return {}


@command("observe", {vol.Required("endpoint"): ENDPOINT, **PATHS})
async def observe(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return _records_json(await ctx.server.observations.observe(args["endpoint"], _paths(args)))


@command(
    "cancel_observe",
    {vol.Required("endpoint"): ENDPOINT, **PATHS, vol.Optional("active", default=True): bool},
)
async def cancel_observe(ctx: CommandContext, args: dict[str, Any]) -> Any:
    await ctx.server.observations.cancel_observe(
        args["endpoint"], _paths(args), active=args["active"]
    )
    return {}


@command(
    "create",
    {
        vol.Required("endpoint"): ENDPOINT,
        vol.Required("path"): PATH,
        vol.Optional("values", default=dict): dict,
        vol.Optional("instance_id"): vol.All(int, vol.Range(min=0, max=65534)),
    },
)
async def create(ctx: CommandContext, args: dict[str, Any]) -> Any:
    path, endpoint = args["path"], args["endpoint"]
    if path.level is not PathLevel.OBJECT:
        raise ApiError("invalid_args", f"path: {path} is not an object")
    instance = args.get("instance_id", 0)
    values = {}
    for key, value in args["values"].items():
        if not str(key).isdigit():
            raise ApiError("invalid_args", f"values: {key!r} is not a resource id")
        values[Path(path.object_id, instance, int(key))] = value
    records = _records(ctx, endpoint, values)
    created = await ctx.server.device.create(endpoint, path, records, args.get("instance_id"))
    return {"path": str(created)}


@command("delete", {vol.Required("endpoint"): ENDPOINT, vol.Required("path"): PATH})
async def delete(ctx: CommandContext, args: dict[str, Any]) -> Any:
    if args["path"].level is not PathLevel.INSTANCE:
        raise ApiError("invalid_args", f"path: {args['path']} is not an object instance")
    await ctx.server.device.delete(args["endpoint"], args["path"])
    return {}


@command("remove_endpoint", {vol.Required("endpoint"): ENDPOINT})
async def remove_endpoint(ctx: CommandContext, args: dict[str, Any]) -> Any:
    ctx.server.registrations.remove(args["endpoint"])
    return {}


@command(
    "get_object_model",
    {
        vol.Optional("object_id"): vol.All(int, vol.Range(min=0, max=65535)),
        vol.Optional("version"): str,
    },
)
async def get_object_model(ctx: CommandContext, args: dict[str, Any]) -> Any:
    if "object_id" not in args:
        return {"objects": [ctx.registry.to_json(m) for m in ctx.registry.objects()]}
    model = ctx.registry.get(args["object_id"], args.get("version"))
    if model is None:
        raise ApiError("not_found", f"object_id: no model for object {args['object_id']}")
    return {"objects": [ctx.registry.to_json(model)]}


async def run_command(ctx: CommandContext, name: str, args: Any) -> Any:
    if name not in COMMANDS:
        raise ApiError("unknown_command", f"command: unknown command {name!r}")
    schema, handler = COMMANDS[name]
    if not isinstance(args, dict):
        raise ApiError("invalid_args", "args: expected an object")
    try:
        valid = schema(args)
    except vol.MultipleInvalid as err:
        first = err.errors[0]
        field = ".".join(str(p) for p in first.path) or "args"
        raise ApiError("invalid_args", f"{field}: {first.msg}", field=field) from err
    return await handler(ctx, valid)


__all__ = ["COMMANDS", "CommandContext", "Lwm2mError", "run_command"]
