"""CoAP over DTLS 1.2 with pre-shared keys (LwM2M 1.1 transport §5.2, RFC 7925), on OpenSSL.

Why OpenSSL: LwM2M names two PSK suites, TLS_PSK_WITH_AES_128_CCM_8 and
TLS_PSK_WITH_AES_128_CBC_SHA256, and devices offer either (nRF91 modems and mbedTLS builds often
the CBC one); tinydtls, aiocoap's DTLS stack, has only the CCM suites, and aiocoap's tinydtls
server cannot send a request over a client's session at all. OpenSSL, reached through pyOpenSSL's
memory BIOs, has every PSK suite and leaves the datagrams to us, so:

- every client session is an aiocoap remote of its own, and device management, observations
  and firmware push go out over the session the device opened (`recognize_remote`);
- the key is looked up per handshake (OpenSSL's PSK server callback) and each session knows
  the identity that authenticated it (`identity_of`);
- a stray datagram never creates state: only a ClientHello does, and it is answered with a
  cookie (HelloVerifyRequest, RFC 6347 §4.2.1) before any key is looked up, so a spoofed
  source gets no larger answer than it sent;
- a device that handshakes again from the same address (it restarted, or lost its session)
  gets a new session once the cookie proves the address, and the old one ends then (RFC 6347
  §4.2.8); handshakes that never complete are reaped and sessions are bounded.

pyOpenSSL has no PSK API: the callback is set through cryptography's OpenSSL bindings, the
same ones pyOpenSSL is built on (it needs pyOpenSSL's `Context._context`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiocoap import error, interfaces
from aiocoap.messagemanager import MessageManager
from aiocoap.numbers import constants
from aiocoap.transports.generic_udp import GenericMessageInterface
from aiocoap.util import hostportjoin
from cryptography.hazmat.bindings.openssl.binding import Binding
from OpenSSL import SSL

from ..coap import MALFORMED, build_context, enlarge_receive_buffer, host_of
from ..quiet_log import QuietLog

_LOGGER = logging.getLogger(__name__)
_FAILURES = QuietLog(_LOGGER)  # a failed handshake: one line a minute per host
KeyLookup = Callable[[str], bytes | None]  # PSK identity -> key, or None when unknown

# RFC 7925 §4.2 and LwM2M 1.1 transport §5.2.8: CCM_8 is mandatory; CBC_SHA256 is LwM2M 1.0's
# second suite. The client's order decides (it knows what its hardware accelerates).
CIPHERS = b":".join(
    [
        b"PSK-AES128-CCM8",  # TLS_PSK_WITH_AES_128_CCM_8
        b"PSK-AES128-CCM",  # TLS_PSK_WITH_AES_128_CCM
        b"PSK-AES128-GCM-SHA256",  # TLS_PSK_WITH_AES_128_GCM_SHA256
        b"PSK-AES128-CBC-SHA256",  # TLS_PSK_WITH_AES_128_CBC_SHA256
    ]
)
DTLS1_2_VERSION = 0xFEFD
RECORD_HEADER = 13  # content type, version, epoch, sequence number, length
HANDSHAKE, CLIENT_HELLO = 22, 1
MTU = 1280  # bytes of a datagram (IPv6's minimum); OpenSSL cannot ask a memory BIO's path MTU
READ_SIZE = 65536

_ffi: Any = Binding.ffi
_lib: Any = Binding.lib


@dataclass(frozen=True, slots=True)
class PskIdentity:
    """The claim a completed handshake leaves on its session: who it authenticated."""

    identity: str


class HandshakeFailed(error.NetworkError):  # type: ignore[misc]
    """The peer's handshake failed (a wrong key, an unknown identity, no common suite)."""


class SessionClosed(error.NetworkError):  # type: ignore[misc]
    """The peer ended the session (close_notify) or its records could not be read."""


def identity_of(remote: Any) -> str | None:
    """The PSK identity behind a request's remote; None for plain CoAP."""
    return remote.identity if isinstance(remote, _Session) else None


def is_secure(remote: Any) -> bool:
    return isinstance(remote, _Session)


def _is_client_hello(datagram: bytes) -> bool:
    """A datagram whose first record is a ClientHello in epoch 0 (a handshake's start)."""
    return (
        len(datagram) > RECORD_HEADER
        and datagram[0] == HANDSHAKE
        and datagram[3:5] == b"\0\0"
        and datagram[RECORD_HEADER] == CLIENT_HELLO
    )


class _Session(interfaces.EndpointAddress):  # type: ignore[misc]
    """One client's DTLS session: an OpenSSL connection fed from the listener's socket, and the
    remote of the requests and responses that travel over it."""

    scheme = "coaps"
    is_multicast = False
    is_multicast_locally = False
    maximum_block_size_exp = constants.MAX_REGULAR_BLOCK_SIZE_EXP  # lowered per session by aiocoap

    def __init__(self, listener: _Listener, address: Any) -> None:
        self._listener = listener
        self.address = address
        self.identity: str | None = None
        self.started = time.monotonic()
        self.connected = False
        self.verified = False  # the client echoed our cookie: the address is really its
        self.closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._tls = SSL.Connection(listener.tls, None)  # None: memory BIOs
        self._tls.set_app_data(self)
        self._tls.set_ciphertext_mtu(MTU)
        self._tls.set_accept_state()

    def __repr__(self) -> str:
        return f"<DTLS session with {self.hostinfo}>"

    @property
    def hostinfo(self) -> str:
        host, port = self.address[:2]
        return str(hostportjoin(host, port))

    @property
    def hostinfo_local(self) -> str:
        return self._listener.hostinfo_local

    @property
    def uri_base(self) -> str:
        return "coaps://" + self.hostinfo

    @property
    def uri_base_local(self) -> str:
        return "coaps://" + self.hostinfo_local

    @property
    def authenticated_claims(self) -> list[PskIdentity]:
        return [PskIdentity(self.identity)] if self.identity is not None else []

    @property
    def blockwise_key(self) -> tuple[Any, str | None]:
        return (self.address, self.identity)

    @property
    def cipher(self) -> str | None:
        """The suite the handshake agreed on (OpenSSL's name)."""
        return self._tls.get_cipher_name()

    # what the listener and aiocoap call

    def received(self, datagram: bytes) -> None:
        """Feed a datagram from the peer: handshake records, or records carrying CoAP."""
        if self.closed:
            return
        try:
            self._tls.bio_write(datagram)
            if not self.connected and not self._handshake():
                return
            while True:
                try:
                    plaintext = self._tls.recv(READ_SIZE)
                except SSL.WantReadError:
                    break
                self._listener.deliver(self, plaintext)
        except SSL.ZeroReturnError:
            self.end(SessionClosed("the device closed its DTLS session"))
        except SSL.Error as err:
            self._flush()  # the alert, if OpenSSL wrote one
            self.end(SessionClosed(f"unreadable DTLS records: {_reason(err)}"))
        else:
            self._flush()

    def send(self, message: bytes) -> None:
        if self.closed or not self.connected:
            _LOGGER.debug("Not sending to %s: no established DTLS session", self.hostinfo)
            return
        try:
            self._tls.send(message)
        except SSL.Error as err:
            self.end(SessionClosed(f"cannot write to the DTLS session: {_reason(err)}"))
            return
        self._flush()

    def end(self, reason: Exception, notify: bool = False) -> None:
        """Close the session and fail what waits on it; notify sends the peer a close_notify."""
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        if notify and self.connected:
            with contextlib.suppress(SSL.Error):
                self._tls.shutdown()
            self._flush()
        self.connected = False
        self._listener.forget(self, reason)

    # the handshake

    def _handshake(self) -> bool:
        """Advance the handshake; True once it is complete."""
        try:
            self._tls.do_handshake()
        except SSL.WantReadError:
            self._flush()
            self._arm_timer()
            return False
        except SSL.Error as err:
            self._flush()  # the alert tells the device why
            _FAILURES.warn(f"handshake:{host_of(self.hostinfo)}", "DTLS handshake with %s failed: %s",
                           self.hostinfo, _reason(err))  # fmt: skip
            self.end(HandshakeFailed(f"DTLS handshake failed: {_reason(err)}"))
            return False
        self.connected = True
        if self._timer is not None:
            self._timer.cancel()
        _LOGGER.debug("DTLS session with %s (%s, %s)", self.hostinfo, self.identity, self.cipher)
        return True

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        delay = self._tls.DTLSv1_get_timeout()
        if delay is not None:
            self._timer = self._listener.loop.call_later(delay, self._retransmit)

    def _retransmit(self) -> None:
        if self.closed or self.connected:
            return
        try:
            self._tls.DTLSv1_handle_timeout()
        except SSL.Error as err:
            self.end(HandshakeFailed(f"DTLS handshake timed out: {_reason(err)}"))
            return
        self._flush()
        self._arm_timer()

    def _flush(self) -> None:
        """Send what OpenSSL wrote: a flight or record at a time (several records may share a
        datagram, RFC 6347 §4.1.1)."""
        while True:
            try:
                out = self._tls.bio_read(READ_SIZE)
            except SSL.WantReadError:
                return
            self._listener.sendto(out, self.address)


def _reason(err: SSL.Error) -> str:
    """OpenSSL's reason ("decryption failed", "no shared cipher"), without its code numbers."""
    for entry in err.args[0] if err.args and isinstance(err.args[0], list) else []:
        if isinstance(entry, tuple) and entry and entry[-1]:
            return str(entry[-1])
    return str(err) or type(err).__name__


def _server_context(lookup: KeyLookup, cookie_secret: bytes) -> tuple[SSL.Context, Any]:
    """The OpenSSL context every session shares; also the PSK callback, which must be kept
    alive as long as the context."""
    context = SSL.Context(SSL.DTLS_SERVER_METHOD)
    context.set_min_proto_version(DTLS1_2_VERSION)
    context.set_mode(SSL.MODE_RELEASE_BUFFERS)  # an idle session keeps no record buffers
    context.set_options(
        SSL.OP_NO_QUERY_MTU | _lib.SSL_OP_COOKIE_EXCHANGE | _lib.SSL_OP_NO_RENEGOTIATION
    )
    # OpenSSL 3.2+ puts CCM_8 (a 64-bit tag) at security level 0; the list names every suite
    # allowed, so the level only has to let the mandatory one through
    context.set_cipher_list(CIPHERS + b":@SECLEVEL=0")

    def cookie_for(tls: SSL.Connection) -> bytes:
        session = tls.get_app_data()
        peer = repr(session.address[:2]).encode() if isinstance(session, _Session) else b""
        return hmac.new(cookie_secret, peer, hashlib.sha256).digest()[:16]

    def cookie_verify(tls: SSL.Connection, cookie: bytes) -> bool:
        if not hmac.compare_digest(cookie, cookie_for(tls)):
            return False
        session = tls.get_app_data()
        if isinstance(session, _Session):
            session.verified = True
            session._listener.proven(session)
        return True

    context.set_cookie_generate_callback(cookie_for)
    context.set_cookie_verify_callback(cookie_verify)

    def psk_for(ssl: Any, identity: Any, psk: Any, max_length: int) -> int:
        # inside OpenSSL's handshake: an exception here would only be printed, so any failure
        # is an unknown identity (the handshake then fails with an alert)
        try:
            name = _ffi.string(identity).decode("utf-8")
            key = lookup(name)
            if key is None or not 0 < len(key) <= max_length:
                return 0
            tls = SSL.Connection._reverse_mapping[ssl]
            session = tls.get_app_data()
            if not isinstance(session, _Session):
                return 0
            session.identity = name
            _ffi.memmove(psk, key, len(key))
            return len(key)
        except Exception:
            _LOGGER.warning("PSK lookup failed for a handshake")
            return 0

    callback = _ffi.callback(
        "unsigned int(SSL *, const char *, unsigned char *, unsigned int)", psk_for
    )
    _lib.SSL_CTX_set_psk_server_callback(context._context, callback)
    return context, callback


class _Listener(asyncio.DatagramProtocol):
    """The socket of one listening address and the sessions of the devices talking to it."""

    max_sessions = 20000  # the least recently active goes first
    handshake_timeout = 30.0  # s; a handshake not complete by then is dropped

    def __init__(self, interface: DtlsServerTransport, lookup: KeyLookup, loop: Any) -> None:
        self._interface = interface
        self.loop = loop
        self.tls, self._keep_alive = _server_context(lookup, secrets.token_bytes(32))
        self.sessions: OrderedDict[Any, _Session] = OrderedDict()  # by peer address
        self._renewing: dict[Any, _Session] = {}  # new handshakes beside a live session
        self._transport: asyncio.DatagramTransport | None = None
        self.hostinfo_local = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self._transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        session = self.sessions.get(addr)
        if _is_client_hello(data):
            if session is None:
                self._reap()
                session = self.sessions[addr] = _Session(self, addr)
            elif session.connected:
                # a new handshake from an address with a live session: the old one stays until
                # the cookie proves the device is really there (see proven)
                if addr not in self._renewing:
                    self._renewing[addr] = _Session(self, addr)
                session = self._renewing[addr]
        elif session is None:
            return  # no session, and not a handshake's start: nothing to do with it
        self.sessions.move_to_end(addr)
        session.received(data)

    def proven(self, session: _Session) -> None:
        """A renewing handshake echoed its cookie: it replaces the address's old session."""
        if self._renewing.get(session.address) is session:
            del self._renewing[session.address]
            old = self.sessions.get(session.address)
            if old is not None:
                old.end(error.NetworkError("the device started a new DTLS session"))
            self.sessions[session.address] = session

    def deliver(self, session: _Session, plaintext: bytes) -> None:
        self._interface.received_plaintext(session, plaintext)

    def forget(self, session: _Session, reason: Exception) -> None:
        if self.sessions.get(session.address) is session:
            del self.sessions[session.address]
        if self._renewing.get(session.address) is session:
            del self._renewing[session.address]
        self._interface.session_ended(session, reason)

    def sendto(self, data: bytes, addr: Any) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, addr)

    def _reap(self) -> None:
        now = time.monotonic()
        stale = [
            s
            for s in [*self.sessions.values(), *self._renewing.values()]
            if not s.connected and now - s.started > self.handshake_timeout
        ]
        for session in stale:
            session.end(HandshakeFailed("DTLS handshake did not complete"))
        while len(self.sessions) >= self.max_sessions:
            _, oldest = next(iter(self.sessions.items()))
            oldest.end(error.LibraryShutdown("DTLS session dropped for lack of activity"), True)

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("DTLS socket error: %s", exc)

    async def connect(self, sockaddr: Any) -> Any:
        raise error.NetworkError("the gateway never opens DTLS sessions; devices do")

    async def shutdown(self) -> None:
        for session in [*self.sessions.values(), *self._renewing.values()]:
            session.end(error.LibraryShutdown("the gateway is stopping"), notify=True)
        if self._transport is not None:
            self._transport.close()


class DtlsServerTransport(GenericMessageInterface):  # type: ignore[misc]
    """aiocoap's message interface over the DTLS sessions of one listening address."""

    _pool: _Listener
    port: int

    @classmethod
    async def create_bound(
        cls, bind: tuple[str, int], messages: MessageManager, log: Any, loop: Any, lookup: KeyLookup
    ) -> DtlsServerTransport:
        self = cls(messages, log, loop)
        transport, listener = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Listener(self, lookup, loop), local_addr=bind, reuse_port=False
        )
        enlarge_receive_buffer(transport.get_extra_info("socket"))
        host, port = transport.get_extra_info("sockname")[:2]
        listener.hostinfo_local = str(hostportjoin(host, port))
        self._pool = listener
        self.port = int(port)
        return self

    def received_plaintext(self, session: _Session, plaintext: bytes) -> None:
        if self._mman is None:
            return
        try:
            self._received_datagram(session, plaintext)
        except (UnicodeDecodeError, ValueError) as err:  # as coap._UDP6Interface
            MALFORMED.note(session.hostinfo, err)

    def session_ended(self, session: _Session, reason: Exception) -> None:
        if self._mman is not None:
            self._received_exception(session, reason)

    async def recognize_remote(self, remote: Any) -> bool:
        if not isinstance(remote, _Session) or remote._listener is not self._pool:
            return False
        if self._pool.sessions.get(remote.address) is remote and remote.connected:
            return True
        raise error.NetworkError(f"no DTLS session with {remote.hostinfo} (any more)")

    async def determine_remote(self, request: Any) -> None:
        return None  # requests go only over sessions that devices opened

    async def shutdown(self) -> None:
        self._mman = None  # aiocoap has cancelled its exchanges already: nothing to tell it
        await self._pool.shutdown()

    @property
    def sessions(self) -> int:
        return sum(session.connected for session in self._pool.sessions.values())


ANY_ADDRESS = ("", "0.0.0.0", "::")


def unicast_addresses(host: str) -> list[str]:
    """The addresses to bind for host: itself, or for an any-address every local unicast address
    of that family (an answer must leave from the address its request arrived at, which a
    socket bound to the any-address is not told)."""
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
    made: list[DtlsServerTransport] = []

    def on(address: str) -> Any:
        async def dtls(messages: MessageManager, log: logging.Logger, loop: Any) -> Any:
            chosen = made[0].port if made else port  # port 0: the first bind picks it
            transport = await DtlsServerTransport.create_bound(
                (address, chosen), messages, log, loop, lookup
            )
            made.append(transport)
            return transport

        return dtls

    factories = [on(address) for address in unicast_addresses(host)]
    context = await build_context(site, *factories)
    return context, made
