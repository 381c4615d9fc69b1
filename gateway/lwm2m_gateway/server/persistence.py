"""What the server roles store and load: small interfaces, implemented by the SQLite store.

Each role receives only the part it needs, so no role (and nothing in the protocol core)
imports the store module; another backend implements these and nothing else changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol


class PersistenceError(Exception):
    """The store cannot write (disk full, read-only, locked): nothing was changed."""


class RegistrationStore(Protocol):
    def save_registration(self, endpoint: str, data: Mapping[str, Any]) -> None: ...
    def load_registrations(self) -> dict[str, dict[str, Any]]: ...
    def delete_registration(self, endpoint: str) -> None: ...
    def delete_endpoint(self, endpoint: str) -> None: ...


class ValueStore(Protocol):
    def save_values(self, endpoint: str, values: Iterable[tuple[str, Any, float]]) -> None: ...
    def delete_values(self, endpoint: str, path_prefix: str) -> None: ...
    def load_values(self) -> dict[str, dict[str, tuple[Any, float]]]: ...


class ValueBatchStore(ValueStore, Protocol):
    """Where ValueWrites writes: many endpoints' values in one transaction, from its thread."""

    def save_value_batch(self, batch: Mapping[str, Mapping[str, tuple[Any, float]]]) -> None: ...


class ObservationStore(Protocol):
    def save_observation(self, endpoint: str, key: str, data: Mapping[str, Any]) -> None: ...
    def delete_observation(self, endpoint: str, key: str) -> None: ...
    def load_observations_of(self, endpoint: str) -> dict[str, dict[str, Any]]: ...
    def load_observations(self) -> dict[str, dict[str, dict[str, Any]]]: ...


class CredentialStore(Protocol):
    """Per-endpoint PSK credentials (the key stays in the store and the DTLS handshake)."""

    def save_credential(self, endpoint: str, identity: str, key: bytes) -> None: ...
    def delete_credential(self, endpoint: str) -> None: ...
    def load_credentials(self) -> list[tuple[str, str, bytes]]: ...


class AdmissionStore(Protocol):
    """The owner's decisions on endpoints the gateway did not know: approved or rejected."""

    def save_admission(self, endpoint: str, decision: str) -> None: ...
    def delete_admission(self, endpoint: str) -> None: ...
    def load_admissions(self) -> dict[str, str]: ...


class InventoryStore(Protocol):
    """When each endpoint was last inventoried, and the links it had then (inventory.py)."""

    def save_inventory(self, endpoint: str, signature: str, at: float) -> None: ...
    def load_inventories(self) -> dict[str, tuple[str, float]]: ...


class SettingStore(Protocol):
    """Small named documents (firmware catalogue and jobs, credentials to come)."""

    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...


class Persistence(
    RegistrationStore,
    ValueBatchStore,
    ObservationStore,
    CredentialStore,
    AdmissionStore,
    InventoryStore,
    SettingStore,
    Protocol,
):
    """Everything the composed server stores."""
