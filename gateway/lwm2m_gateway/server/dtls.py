"""CoAP over DTLS with pre-shared keys (LwM2M 1.1 transport §5.2), on aiocoap's tinydtls server.

aiocoap 0.4.17's tinydtls server transport completes PSK handshakes but cannot send a request
of its own to a client: its `recognize_remote` accepts only plain addresses, so a server-initiated
Read over the device's session fails with NoRequestInterface. The subclasses here fix that and
the session lifecycle around it, without patching aiocoap globally:

- the transport recognises its own live sessions as remotes, so device management, observations
  and firmware push go out over the session the device opened;
- keys are looked up per handshake in the gateway's credential table, and each session knows
  the PSK identity that authenticated it (`identity_of`);
- a close_notify at any alert level ends a session (peers send it as a warning), a session
  replaced by a new handshake is never written to (tinydtls would start a client handshake),
  a second identity from the same address is refused cleanly, and handshakes that never
  complete are reaped.

tinydtls offers TLS_PSK_WITH_AES_128_CCM_8 (mandatory for LwM2M) and TLS_PSK_WITH_AES_128_CCM,
DTLS 1.2 only. Relies on private names of aiocoap 0.4.17 and DTLSSocket 0.2.3, both pinned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiocoap import error
from aiocoap.credentials import CredentialsMap
from aiocoap.messagemanager import MessageManager
from aiocoap.transports.tinydtls import (
    CODE_CLOSE_NOTIFY,
    DTLS_EVENT_CONNECTED,
    LEVEL_NOALERT,
    CloseNotifyReceived,
)
from aiocoap.transports.tinydtls_server import (
    GoingThroughMessageDecryption,
    MessageInterfaceTinyDTLSServer,
    SecurityStore,
    _AddressDTLS,
    _DatagramServerSocketSimpleDTLS,
)
from aiocoap.util import hostportjoin

from ..coap import MALFORMED, build_context, enlarge_receive_buffer

_LOGGER = logging.getLogger(__name__)
KeyLookup = Callable[[str], bytes | None]  # PSK identity -> key, or None when unknown
HANDSHAKE_RECORD, SERVER_HELLO = 22, 2


@dataclass(frozen=True, slots=True)
class PskIdentity:
    """The claim a completed handshake leaves on its session: who it authenticated."""

    identity: str


class PskCredentials(CredentialsMap):  # type: ignore[misc]
    """The server side of aiocoap's credentials: it only ever asks `find_dtls_psk`."""

    def __init__(self, lookup: KeyLookup) -> None:
        super().__init__()
        self._lookup = lookup

    def __bool__(self) -> bool:
        return True  # an empty map is falsy, and aiocoap would silently replace it

    def find_dtls_psk(self, identity: bytes) -> tuple[bytes, PskIdentity]:
        # called from inside tinydtls' handshake: anything but KeyError would surface as a
        # SystemError in the datagram callback, so a failing lookup is an unknown identity
        try:
            name = bytes(identity).decode("utf-8")
            key = self._lookup(name)
        except Exception:
            _LOGGER.warning("PSK lookup failed for an identity of %d bytes", len(identity))
            key = None
        if key is None:
            raise KeyError(identity)
        return key, PskIdentity(name)


def identity_of(remote: Any) -> str | None:
    """The PSK identity behind a request's remote; None for plain CoAP."""
    if isinstance(remote, _Session):
        claim = remote._psk_store._claims
        if isinstance(claim, PskIdentity):
            return claim.identity
    return None


def is_secure(remote: Any) -> bool:
    return isinstance(remote, _Session)


class _SessionKeys(SecurityStore):  # type: ignore[misc]
    """Per-session view of the credentials that refuses a second identity on the same address
    (aiocoap raises inside the handshake) and drops the stale session, so the device's next
    attempt starts clean."""

    def __init__(self, credentials: Any, session: _Session) -> None:
        super().__init__(credentials)
        self._session = session

    def __contains__(self, key: bytes) -> bool:
        try:
            _, claim = self._server_credentials.find_dtls_psk(key)
        except KeyError:
            return False
        if self._claims not in (None, claim):
            asyncio.get_running_loop().call_soon(
                self._session.end, error.NetworkError("new handshake with another PSK identity")
            )
            return False
        return True


class _Session(_AddressDTLS):  # type: ignore[misc]
    """One client's DTLS session, usable as the remote of requests the server sends."""

    def __init__(self, protocol: Any, address: Any) -> None:
        super().__init__(protocol, address)
        self._psk_store = _SessionKeys(protocol._server_credentials, self)
        self._dtls_socket.pskStore = self._psk_store
        self.started = time.monotonic()
        self.connected = False
        self.closed = False

    def _event(self, level: int, code: int) -> None:
        if (level, code) == (LEVEL_NOALERT, DTLS_EVENT_CONNECTED):
            self.connected = True
            return
        if level != LEVEL_NOALERT and code == CODE_CLOSE_NOTIFY:
            self.end(CloseNotifyReceived())
            return
        super()._event(level, code)

    def _write(self, recipient: Any, data: bytes) -> int:
        # tinydtls answers a verified ClientHello with a ServerHello after it has already
        # dropped the earlier session of this address: from then on that session is gone
        if len(data) > 13 and data[0] == HANDSHAKE_RECORD and data[13] == SERVER_HELLO:
            self.connected = False
            self.started = time.monotonic()
        return int(super()._write(recipient, data))

    def send(self, message: bytes) -> None:
        if self.closed or not self.connected:
            # writing now would make tinydtls start a client handshake towards the device
            _LOGGER.debug("Not sending to %s: no established DTLS session", self.hostinfo)
            return
        super().send(message)

    def end(self, reason: Exception) -> None:
        if self.closed:
            return
        self.closed = True
        self.connected = False
        self._protocol._message_interface._received_exception(self, reason)
        self._retransmission_task.cancel()
        connections = self._protocol._connections
        if connections.get(self._underlying_address.address) is self:
            del connections[self._underlying_address.address]

    _inject_error = end


class _ServerSocket(_DatagramServerSocketSimpleDTLS):  # type: ignore[misc]
    _Address = _Session
    max_sockets = 20000  # sessions kept; the least recently active goes first
    handshake_timeout = 30.0  # s; a failed handshake (a wrong key) leaves no event

    @classmethod
    async def create(cls, bind: Any, log: Any, loop: Any, message_interface: Any) -> Any:
        # as aiocoap's, but the port is owned alone (no SO_REUSEPORT: see coap.udp_socket)
        wrapped = GoingThroughMessageDecryption(message_interface)
        ready = asyncio.get_running_loop().create_future()
        _, protocol = await loop.create_datagram_endpoint(
            lambda: cls(ready.set_result, wrapped, log), local_addr=bind, reuse_port=False
        )
        protocol.hostinfo_local = hostportjoin(bind[0], bind[1])
        self = await ready
        self._loop = loop
        return self

    def datagram_received(self, data: bytes, sockaddr: Any) -> None:
        if sockaddr not in self._connections:
            self.reap()
        super().datagram_received(data, sockaddr)

    def reap(self) -> None:
        now = time.monotonic()
        for session in list(self._connections.values()):
            if not session.connected and now - session.started > self.handshake_timeout:
                session.end(error.NetworkError("DTLS handshake did not complete"))
        while len(self._connections) >= self.max_sockets:
            _, oldest = next(iter(self._connections.items()))
            oldest.end(error.LibraryShutdown("DTLS session dropped for lack of activity"))


class DtlsServerTransport(MessageInterfaceTinyDTLSServer):  # type: ignore[misc]
    _serversocket = _ServerSocket

    @classmethod
    async def create_bound(
        cls, bind: tuple[str, int], messages: Any, log: Any, loop: Any, credentials: Any
    ) -> DtlsServerTransport:
        # not super().create_server: it binds the given port plus one (0 became port 1)
        self = cls(messages, log, loop)
        self._pool = await self._serversocket.create(bind, log, self._loop, self)
        self._pool._server_credentials = credentials
        enlarge_receive_buffer(self._pool._transport.get_extra_info("socket"))
        host, port = self._pool._transport.get_extra_info("sockname")[:2]
        self._pool.hostinfo_local = hostportjoin(host, port)
        self.port = int(port)
        return self

    def _received_datagram(self, address: Any, datagram: bytes) -> None:
        try:
            super()._received_datagram(address, datagram)
        except (UnicodeDecodeError, ValueError) as err:  # as coap._UDP6Interface
            MALFORMED.note(address, err)

    def _owns(self, remote: Any) -> bool:
        return isinstance(remote, _Session) and remote._protocol is self._pool

    async def recognize_remote(self, remote: Any) -> bool:
        if not self._owns(remote):
            return False
        live = self._pool._connections.get(remote._underlying_address.address) is remote
        if live and remote.connected:
            return True
        raise error.NetworkError(f"no DTLS session with {remote.hostinfo} (any more)")

    @property
    def sessions(self) -> int:
        return len(self._pool._connections)


ANY_ADDRESS = ("", "0.0.0.0", "::")


def unicast_addresses(host: str) -> list[str]:
    """The addresses to bind for host: itself, or for an any-address every local unicast address
    of that family (tinydtls' server socket must know the address it answers from)."""
    if host not in ANY_ADDRESS:
        return [host]
    import ifaddr  # zeroconf's dependency

    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                found.append(ip.ip)
            elif host != "0.0.0.0" and not ip.ip[0].startswith("fe80"):
                found.append(ip.ip[0])  # link-local v6 needs a scope: left out
    return found or ["127.0.0.1"]


async def open_dtls_context(
    site: Any, host: str, port: int, lookup: KeyLookup
) -> tuple[Any, list[DtlsServerTransport]]:
    """A coaps server context on host:port (every unicast address for an any-address, all on
    one port) whose keys come from lookup; and its transports."""
    credentials = PskCredentials(lookup)
    made: list[DtlsServerTransport] = []

    def on(address: str) -> Any:
        async def dtls(messages: MessageManager, log: logging.Logger, loop: Any) -> Any:
            chosen = made[0].port if made else port  # port 0: the first bind picks it
            transport = await DtlsServerTransport.create_bound(
                (address, chosen), messages, log, loop, credentials
            )
            made.append(transport)
            return transport

        return dtls

    factories = [on(address) for address in unicast_addresses(host)]
    context = await build_context(site, *factories, server_credentials=credentials)
    return context, made
