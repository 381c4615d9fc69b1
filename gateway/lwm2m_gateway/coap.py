"""Small aiocoap helpers that every CoAP user in the gateway shares."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import logging
import socket
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import aiocoap
import aiocoap.error
from aiocoap.credentials import CredentialsMap
from aiocoap.messagemanager import MessageManager
from aiocoap.pipe import error_to_message, run_driving_pipe
from aiocoap.transports.tinydtls import MessageInterfaceTinyDTLS
from aiocoap.transports.udp6 import MessageInterfaceUDP6, UDP6EndpointAddress
from aiocoap.util import socknumbers

from .coap_decode import decode_message
from .coap_messages import MessageLayer
from .coap_tokens import FollowingTokens
from .quiet_log import QuietLog


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved, so a LibraryShutdown at exit is not reported as lost


async def wait_response(pending: Any, seconds: float) -> aiocoap.Message:
    """Wait for aiocoap's response future without ever cancelling it: aiocoap sets its result
    from the datagram callback and fails if a caller's timeout had cancelled it."""
    future: asyncio.Future[aiocoap.Message] = pending.response
    future.add_done_callback(_consume)
    return await asyncio.wait_for(asyncio.shield(future), seconds)


def host_of(hostinfo: str) -> str:
    """The host of a remote's host:port ("[::1]:5683" -> "::1")."""
    host = hostinfo.rsplit(":", 1)[0] if ":" in hostinfo else hostinfo
    return host.strip("[]")


def bound_port(context: aiocoap.Context) -> int | None:
    """The UDP port a context really bound (when asked for port 0)."""
    for interface in context.request_interfaces:
        messages = getattr(getattr(interface, "token_interface", None), "message_interface", None)
        local_port = getattr(messages, "_local_port", None)
        if callable(local_port):
            port = local_port()
            if isinstance(port, int):
                return port
    return None


class _TimerTrackingLoop:
    """The running loop, as aiocoap sees it, with every timer it schedules remembered.

    aiocoap keeps a deduplication timer per received message (EXCHANGE_LIFETIME, 247 s) and an
    empty-ACK timer per request, and drops their handles, so they outlive the context: the
    empty-ACK one then fires on a closed socket. Handing aiocoap this proxy as its loop lets
    `close_context` cancel what is left. The handles are held weakly: one that fired or was
    cancelled leaves when the loop lets go of it (pruning a plain set on every call was O(timers)
    per call, 82 % of the gateway's CPU in a 10,000-device registration storm).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.handles: weakref.WeakSet[asyncio.TimerHandle] = weakref.WeakSet()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)

    def call_later(self, delay: float, callback: Any, *args: Any, **kwargs: Any) -> Any:
        handle = self._loop.call_later(delay, callback, *args, **kwargs)
        self.handles.add(handle)
        return handle

    def call_at(self, when: float, callback: Any, *args: Any, **kwargs: Any) -> Any:
        return self.call_later(when - self._loop.time(), callback, *args, **kwargs)


class _Context(aiocoap.Context):  # type: ignore[misc]
    """aiocoap's context, with a fixed name for the task that renders each request: aiocoap
    formats the whole request (message, options and remote) into that name, eagerly, which
    was 6 % of a Register's CPU in a registration storm. (A fix to offer upstream.)"""

    def render_to_pipe(self, pipe: Any) -> None:
        run_driving_pipe(error_to_message(pipe, self.log), self._render_to_pipe(pipe), "render")


class OutgoingRequest(aiocoap.Message):  # type: ignore[misc]
    """A request the gateway sends, with a cheap repr: aiocoap names a task after every request
    it sends, formatting the message and its remote (parsing the address) eagerly, which was
    9 % of the CPU of a registration storm's observes and inventories."""

    def __repr__(self) -> str:
        return f"<request {self.code} /{'/'.join(self.opt.uri_path)}>"


_LOGGER = logging.getLogger(__name__)
MALFORMED_LOG_INTERVAL = 60.0  # s between two log lines about malformed datagrams


class _MalformedDatagrams(logging.Filter):
    """Garbage on the CoAP port costs one log line a minute, not a line (or a traceback) a
    datagram: 15,000 fuzzed datagrams once wrote 31 MB of tracebacks."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0
        self._quiet = QuietLog(_LOGGER, MALFORMED_LOG_INTERVAL)

    def note(self, source: object, err: Exception) -> None:
        self.dropped += 1
        if self._quiet.due("malformed") is not None:
            _LOGGER.warning("Dropped malformed datagrams (%d so far; the last from %s: %s)",
                            self.dropped, source, str(err)[:120])  # fmt: skip

    def filter(self, record: logging.LogRecord) -> bool:
        """aiocoap's own warnings about a bad datagram, or a peer reusing a token before its
        last request was answered: one per datagram (190 KB of log from 20,000 fuzzed ones)."""
        text = str(record.msg)
        if text.startswith("Ignoring unparsable message") or "(those don't fit)" in text:
            self.dropped += 1
            return self._quiet.due("malformed") is not None
        if text.startswith("New request came in while old request not ACKed yet"):
            return self._quiet.due("token reused") is not None
        return True


MALFORMED = _MalformedDatagrams()
logging.getLogger("coap").addFilter(MALFORMED)


def quiet_coap_logs(level: int) -> None:
    """aiocoap logs a line at INFO for every unmatched response, duplicate or ping: at the
    gateway's INFO that is a line per datagram of garbage. It speaks at WARNING (rate-limited
    above) unless the gateway runs at DEBUG."""
    logging.getLogger("coap").setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)


@functools.lru_cache(maxsize=65536)
def _plain_address(address: str) -> str:
    return str(UDP6EndpointAddress._strip_v4mapped(address))


class _Address(UDP6EndpointAddress):  # type: ignore[misc]
    """A UDP remote whose address text is worked out once per address: aiocoap parses the
    address anew (ipaddress) for each hostinfo, repr and response, 8 % of a Register's CPU."""

    _strip_v4mapped = staticmethod(_plain_address)


class _UDP6Interface(MessageInterfaceUDP6):  # type: ignore[misc]
    def datagram_msg_received(self, data: bytes, ancdata: Any, flags: int, address: Any) -> None:
        """aiocoap's, with _Address as the remote, the cheaper decode and malformed datagrams
        counted."""
        pktinfo = None
        for level, kind, value in ancdata:
            if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
                pktinfo = value
        try:
            message = decode_message(data, _Address(address, self, pktinfo=pktinfo))
        except (aiocoap.error.UnparsableMessage, UnicodeDecodeError, ValueError) as err:
            MALFORMED.note(address, err)  # ValueError: an option aiocoap decodes unguarded
            return
        self._ctx.dispatch_message(message)


RECEIVE_BUFFER = 2 * 1024 * 1024  # bytes; the kernel caps it at net.core.rmem_max


def enlarge_receive_buffer(sock: socket.socket | None) -> None:
    """A server socket's receive buffer sized for bursts: with the default (about 200 KiB) a
    busy event loop dropped DTLS handshake flights under load (RcvbufErrors), each costing the
    device a retransmission timeout."""
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)


TransportFactory = Callable[[MessageManager, logging.Logger, Any], Awaitable[Any]]


async def build_context(
    site: Any,
    *transports: TransportFactory,
    server_credentials: Any = None,
    client_credentials: Any = None,
) -> aiocoap.Context:
    """An aiocoap context over message transports, with random tokens, followed observations
    (coap_tokens) and timers that `close_context` can cancel (aiocoap's create_server_context
    offers none of these)."""
    loop = _TimerTrackingLoop(asyncio.get_running_loop())
    context = _Context(
        loop=loop,
        serversite=site,
        server_credentials=server_credentials,
        client_credentials=client_credentials,
    )
    for transport in transports:
        tokens = FollowingTokens(context)
        messages = MessageLayer(tokens)
        messages.message_interface = await transport(messages, context.log, loop)
        tokens.token_interface = messages
        context.request_interfaces.append(tokens)
    return context


def udp_socket(host: str, port: int) -> socket.socket:
    """A dual-stack UDP socket bound to host:port, owned alone.

    aiocoap's udp6 server sets SO_REUSEPORT, so on Linux a bind to port 0 could be handed a
    port another such socket already had, and the kernel then splits that port's datagrams
    between them: a device's Register answer went to another device (seen with 300 simulated
    devices), and a second gateway on a taken port started instead of failing.
    """
    flags = socket.AI_V4MAPPED | socket.AI_PASSIVE
    infos = socket.getaddrinfo(host or "::", port, socket.AF_INET6, socket.SOCK_DGRAM, 0, flags)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(infos[0][4])
    except OSError:
        sock.close()
        raise
    enlarge_receive_buffer(sock)
    return sock


MAX_BURST = 64  # datagrams read in one wake-up of the event loop


class BurstReader:
    """Reads a UDP socket for aiocoap's udp6 protocol, in place of aiocoap's reader.

    aiocoap's reader makes two recvmsg calls per datagram, the first on the error queue, which
    raises when (almost always) it is empty, and reads one datagram per pass of the event loop.
    This one reads the error queue only when a wake-up brought no datagram (ICMP errors wake
    the socket too, and it stays readable until the queue is read), and reads as many datagrams
    as the last wake-up found, doubling up to MAX_BURST while the socket keeps having more, so
    a quiet socket costs one recvmsg per datagram and a busy one one pass per burst.
    """

    def __init__(self, sock: socket.socket, protocol: Any) -> None:
        self._sock = sock
        self._protocol = protocol
        self._burst = 1

    def __call__(self) -> None:
        sock, protocol = self._sock, self._protocol
        received = 0
        for _ in range(self._burst):
            try:
                data, ancdata, flags, address = sock.recvmsg(4096, 1024)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # an ICMP error reported on the socket itself
                protocol.error_received(exc)
                break
            received += 1
            protocol.datagram_msg_received(data, ancdata, flags, address)
        if received == self._burst:
            self._burst = min(2 * self._burst, MAX_BURST)
        elif received <= 1:
            self._burst = 1
        if received == 0 and socknumbers.HAS_RECVERR:
            self._read_errors()

    def _read_errors(self) -> None:
        try:
            data, ancdata, flags, address = self._sock.recvmsg(4096, 1024, socknumbers.MSG_ERRQUEUE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._protocol.error_received(exc)
            return
        self._protocol.datagram_errqueue_received(data, ancdata, flags, address)


async def open_context(site: Any = None, bind: tuple[str, int] | None = None) -> aiocoap.Context:
    """A plain CoAP (UDP) server context: no CoAP over TCP or WebSockets listeners."""
    host, port = bind or ("::", 5683)

    async def udp(messages: MessageManager, log: logging.Logger, loop: Any) -> Any:
        sock = udp_socket(host, port)
        interface = await _UDP6Interface._create_transport_endpoint(
            sock, messages, log, loop, multicast=[]
        )
        # aiocoap added its reader before answering; the transport's close removes ours
        loop.remove_reader(sock.fileno())
        loop.add_reader(sock.fileno(), BurstReader(sock, interface))
        return interface

    return await build_context(site, udp)


async def open_psk_client_context(
    site: Any, server_uri: str, identity: str, key: bytes
) -> aiocoap.Context:
    """A device's context: it opens a DTLS-PSK session to server_uri and answers the server's
    requests that come back over it."""
    credentials = CredentialsMap()
    credentials.load_from_dict(
        {
            f"{server_uri.rstrip('/')}/*": {
                "dtls": {"psk": key, "client-identity": identity.encode()}
            }
        }
    )

    if importlib.util.find_spec("DTLSSocket") is None:  # aiocoap would fail in the handshake
        raise RuntimeError(
            "simulated DTLS devices need DTLSSocket: pip install 'lwm2m-gateway[simulator-dtls]'"
        )

    async def dtls(messages: MessageManager, log: logging.Logger, loop: Any) -> Any:
        return await MessageInterfaceTinyDTLS.create_client_transport_endpoint(
            messages, log=log, loop=loop
        )

    return await build_context(site, dtls, client_credentials=credentials)


async def close_context(context: aiocoap.Context) -> None:
    """Shut the context down and cancel the timers aiocoap leaves behind: its message timers
    (see _TimerTrackingLoop) and the expiry timers of the site's block-wise caches, which
    aiocoap schedules on the running loop and never cancels."""
    site = context.serversite
    await context.shutdown()
    for _ in range(3):  # let the tasks the shutdown cancelled (DTLS handshakes) finish
        await asyncio.sleep(0)
    loop = context.loop
    if isinstance(loop, _TimerTrackingLoop):
        for handle in list(loop.handles):
            handle.cancel()
        loop.handles.clear()
    for cache in (getattr(site, "_block1", None), getattr(site, "_block2", None)):
        for store in vars(cache).values() if cache is not None else ():
            timer = getattr(store, "_timeout", None)
            if isinstance(timer, asyncio.TimerHandle):
                timer.cancel()
