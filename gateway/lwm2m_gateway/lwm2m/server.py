"""The LwM2M server role: one aiocoap context that devices register with and that sends them requests.

This is the facade the API, the demo and the tests use. SKELETON: signatures are the contract
between the server and the API; bodies are being filled in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .paths import Path
from .values import Record, Value


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One thing that happened, named as the API event it becomes (docs/protocol.md)."""

    name: str  # endpoint_registered, endpoint_updated, endpoint_deregistered, endpoint_awake, ...
    endpoint: str
    data: Mapping[str, Any] = field(default_factory=dict)


EventListener = Callable[[ServerEvent], None]


class Lwm2mServer:
    """Registration interface (/rd), device management, information reporting (/dp and notify)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    @property
    def coap_port(self) -> int: ...

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call listener for every ServerEvent; returns the unsubscribe function."""
        ...

    def endpoint_names(self) -> list[str]: ...
    def endpoint_state(self, endpoint: str) -> dict[str, Any]:
        """The API's endpoint object (docs/protocol.md); raises UnknownEndpoint."""
        ...

    async def read(self, endpoint: str, paths: Sequence[Path]) -> list[Record]: ...
    async def write(
        self, endpoint: str, path: Path | None, records: Sequence[Record], *, replace: bool
    ) -> None: ...
    async def execute(self, endpoint: str, path: Path, args: str | None = None) -> None: ...
    async def discover(self, endpoint: str, path: Path) -> list[tuple[Path, dict[str, str]]]: ...
    async def write_attributes(
        self, endpoint: str, path: Path, attributes: Mapping[str, float | None]
    ) -> None: ...
    async def observe(self, endpoint: str, paths: Sequence[Path]) -> list[Record]: ...
    async def cancel_observe(
        self, endpoint: str, paths: Sequence[Path], *, active: bool = True
    ) -> None: ...
    async def create(
        self,
        endpoint: str,
        object_path: Path,
        records: Sequence[Record],
        instance_id: int | None = None,
    ) -> Path: ...
    async def delete(self, endpoint: str, path: Path) -> None: ...
    async def remove_endpoint(self, endpoint: str) -> None: ...


__all__ = ["EventListener", "Lwm2mServer", "ServerEvent", "Value"]
