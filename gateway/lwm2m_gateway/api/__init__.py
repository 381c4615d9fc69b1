"""The local WebSocket API Home Assistant talks to (the contract is docs/protocol.md)."""

from . import firmware_commands as _firmware_commands  # noqa: F401 - registers the commands
from . import security_commands as _security_commands  # noqa: F401 - registers the commands
from .messages import MIN_SUPPORTED_SCHEMA_VERSION, SCHEMA_VERSION
from .server import ApiServer

__all__ = ["MIN_SUPPORTED_SCHEMA_VERSION", "SCHEMA_VERSION", "ApiServer"]
