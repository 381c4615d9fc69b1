"""Per-endpoint credentials, and the rule they enforce (LwM2M 1.1 transport §5.2, core §7.1).

An endpoint with credentials is only ever heard over a DTLS session its own PSK identity
authenticated: Register, Update, De-register, Send and notifications from anywhere else are
refused. An identity authenticates exactly one endpoint. Keys never leave this role except into
the DTLS handshake: the API lists identities only, and nothing here logs a key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..lwm2m.errors import BadRequest, Forbidden
from .dtls import identity_of
from .persistence import CredentialStore

_LOGGER = logging.getLogger(__name__)
MAX_IDENTITY_BYTES = 128  # RFC 4279 allows 2^16; LwM2M clients keep it short
MAX_KEY_BYTES = 64


@dataclass(frozen=True, slots=True)
class Credential:
    endpoint: str
    identity: str
    key: bytes

    def __repr__(self) -> str:  # never a key in a log line or a traceback
        return f"Credential(endpoint={self.endpoint!r}, identity={self.identity!r})"


class Security:
    def __init__(self, store: CredentialStore) -> None:
        self._store = store
        self._by_endpoint: dict[str, Credential] = {}
        self._by_identity: dict[str, Credential] = {}
        for endpoint, identity, key in store.load_credentials():
            self._remember(Credential(endpoint, identity, key))

    def _remember(self, credential: Credential) -> None:
        self._by_endpoint[credential.endpoint] = credential
        self._by_identity[credential.identity] = credential

    def set(self, endpoint: str, identity: str, key: bytes) -> Credential:
        """Give an endpoint a PSK identity and key (replacing any it had)."""
        if not endpoint:
            raise BadRequest("endpoint: must not be empty")
        if not identity or len(identity.encode()) > MAX_IDENTITY_BYTES:
            raise BadRequest(f"identity: 1 to {MAX_IDENTITY_BYTES} bytes of UTF-8")
        if not 1 <= len(key) <= MAX_KEY_BYTES:
            raise BadRequest(f"key: 1 to {MAX_KEY_BYTES} bytes")
        owner = self._by_identity.get(identity)
        if owner is not None and owner.endpoint != endpoint:
            raise BadRequest(f"identity: {identity!r} already belongs to {owner.endpoint!r}")
        credential = Credential(endpoint, identity, key)
        self._store.save_credential(endpoint, identity, key)
        if (old := self._by_endpoint.get(endpoint)) is not None:
            self._by_identity.pop(old.identity, None)
        self._remember(credential)
        _LOGGER.info("Credentials set for %s (identity %r)", endpoint, identity)
        return credential

    def remove(self, endpoint: str) -> None:
        credential = self._by_endpoint.get(endpoint)
        if credential is None:
            raise BadRequest(f"endpoint: {endpoint!r} has no credentials")
        self._store.delete_credential(endpoint)
        del self._by_endpoint[endpoint]
        self._by_identity.pop(credential.identity, None)
        _LOGGER.info("Credentials removed for %s", endpoint)

    def listing(self) -> list[dict[str, str]]:
        """What the API may show: endpoints and identities, never keys."""
        return [
            {"endpoint": c.endpoint, "identity": c.identity, "mode": "psk"}
            for c in sorted(self._by_endpoint.values(), key=lambda c: c.endpoint)
        ]

    def credential(self, endpoint: str) -> Credential | None:
        return self._by_endpoint.get(endpoint)

    def mode(self, endpoint: str) -> str:
        return "psk" if endpoint in self._by_endpoint else "nosec"

    def key_for_identity(self, identity: str) -> bytes | None:
        """The DTLS handshake's key lookup."""
        credential = self._by_identity.get(identity)
        return None if credential is None else credential.key

    def check(self, endpoint: str, remote: Any) -> None:
        """Raise Forbidden unless this remote may speak for this endpoint."""
        credential = self._by_endpoint.get(endpoint)
        identity = identity_of(remote)
        if credential is not None and identity != credential.identity:
            how = "over plain CoAP" if identity is None else f"as identity {identity!r}"
            raise Forbidden(
                f"{endpoint} has credentials and must use DTLS with its identity, not {how}",
                endpoint=endpoint,
            )
        if credential is None and identity is not None:
            owner = self._by_identity.get(identity)
            other = owner.endpoint if owner is not None else "another endpoint"
            raise Forbidden(
                f"identity {identity!r} belongs to {other}, not {endpoint}", endpoint=endpoint
            )
