"""The message shapes of the API, shared by both ends as plain data (docs/protocol.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

SCHEMA_VERSION = 5  # 5: coalesced frames, registered before inventory (docs/protocol.md changelog)
MIN_SUPPORTED_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class ServerInfoMessage:
    gateway_version: str
    gateway_id: str
    device_uris: dict[str, str]  # schema 3: what devices are told, {"coap": ..., "coaps": ...}
    schema_version: int = SCHEMA_VERSION
    min_supported_schema_version: int = MIN_SUPPORTED_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {"type": "server_info", **asdict(self)}


@dataclass(frozen=True, slots=True)
class CommandMessage:
    message_id: str | int
    command: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SuccessResultMessage:
    message_id: str | int | None
    result: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "result",
            "message_id": self.message_id,
            "success": True,
            "result": self.result,
        }


@dataclass(frozen=True, slots=True)
class ErrorResultMessage:
    message_id: str | int | None
    error_code: str
    details: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "result",
            "message_id": self.message_id,
            "success": False,
            "error_code": self.error_code,
            "details": self.details,
        }


def event_json(event: str, data: dict[str, Any]) -> dict[str, Any]:
    """An event message: a plain dict, not a dataclass like the others, as one is made per
    notification (a frozen dataclass's __init__ was 2.5 % of the gateway's CPU in a flood)."""
    return {"type": "event", "event": event, "data": data}


class ApiError(Exception):
    """A failure the API reports as is: an error code and a message naming the field."""

    def __init__(self, error_code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.details = {"message": message, **details}
