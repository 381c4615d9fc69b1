"""The aiocoap plumbing every CoAP user of the gateway shares (lwm2m_gateway/coap.py)."""

from __future__ import annotations

import asyncio
import logging
import socket

import aiocoap
import pytest

from lwm2m_gateway.coap import bound_port, close_context, open_context
from lwm2m_gateway.server.transport import ListenError
from tests.gateway.conftest import ServerFactory


async def test_a_taken_port_is_refused_not_shared() -> None:
    """With SO_REUSEPORT (aiocoap's default) the kernel split a port's datagrams between two
    sockets: a device's Register answer reached another device, a second gateway started."""
    holder = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    holder.bind(("::ffff:127.0.0.1", 0))
    port = holder.getsockname()[1]
    try:
        with pytest.raises(OSError, match="in use"):
            await open_context(None, bind=("127.0.0.1", port))
    finally:
        holder.close()


async def test_contexts_on_port_0_never_share_a_port() -> None:
    contexts = [await open_context(None, bind=("127.0.0.1", 0)) for _ in range(64)]
    try:
        ports = set()
        for context in contexts:
            (interface,) = context.request_interfaces
            sock = interface.token_interface.message_interface.transport.get_extra_info("socket")
            ports.add(sock.getsockname()[1])
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 2 * 1024 * 1024
        assert len(ports) == len(contexts)
    finally:
        for context in contexts:
            await close_context(context)


async def test_the_dtls_port_is_owned_alone(make_server: ServerFactory) -> None:
    lwm2m, _ = await make_server(coaps_port=0)
    with pytest.raises(
        ListenError, match=f"cannot listen for coaps on 127.0.0.1:{lwm2m.coaps_port}"
    ):
        await make_server(coaps_port=lwm2m.coaps_port)


async def test_no_coap_over_tcp_listener_is_opened(make_server: ServerFactory) -> None:
    """aiocoap's server context would also listen on TCP 5683 (CoAP over TCP): not asked for."""
    lwm2m, _ = await make_server()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", lwm2m.coap_port), timeout=2).close()


async def test_the_timer_tracking_loop_forgets_timers_that_ran_and_cancels_the_rest() -> None:
    """aiocoap's timers are tracked so close_context can cancel them, without the tracking
    growing with (or costing per call in proportion to) every timer ever scheduled."""
    import asyncio
    import gc

    from lwm2m_gateway.coap import _TimerTrackingLoop

    loop = _TimerTrackingLoop(asyncio.get_running_loop())
    fired: list[int] = []
    for n in range(1000):
        loop.call_later(0, fired.append, n)
    pending = loop.call_at(loop.time() + 60, fired.append, -1)
    await asyncio.sleep(0.05)
    gc.collect()
    assert len(fired) == 1000
    assert set(loop.handles) == {pending}  # the 1,000 that ran are gone
    for handle in list(loop.handles):
        handle.cancel()
    assert pending.cancelled()


async def test_a_burst_of_datagrams_is_answered_in_full() -> None:
    """The burst reader reads many datagrams per wake-up: none is lost or left unread."""
    import asyncio

    import aiocoap
    import aiocoap.resource
    from aiocoap.numbers.codes import Code

    class Echo(aiocoap.resource.Resource):  # type: ignore[misc]
        async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
            return aiocoap.Message(
                code=Code.CONTENT, payload=bytes(request.opt.uri_query[0], "ascii")
            )

    site = aiocoap.resource.Site()
    site.add_resource(["echo"], Echo())
    context = await open_context(site, bind=("127.0.0.1", 0))
    port = bound_port(context)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    client.setblocking(False)
    try:
        count = 400
        for n in range(count):  # all sent before the gateway's loop runs once
            query = str(n).encode()  # CON GET, token n, Uri-Path "echo", Uri-Query n
            request = bytes([0x42, 0x01]) + n.to_bytes(2) + n.to_bytes(2) + b"\xb4echo"
            request += bytes([0x40 | len(query)]) + query
            client.sendto(request, ("127.0.0.1", port))
        answers: set[bytes] = set()
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(10):
            while len(answers) < count:
                answer = aiocoap.Message.decode(await loop.sock_recv(client, 2048))
                answers.add(answer.payload)
        assert answers == {str(n).encode() for n in range(count)}
    finally:
        client.close()
        await close_context(context)


def test_the_exchange_index_follows_every_change_and_iterates_each_key_once() -> None:
    from lwm2m_gateway.coap_messages import Exchanges

    exchanges = Exchanges()
    for remote in ("a", "b", "c"):
        for mid in range(3):
            exchanges[(remote, mid)] = object()
    exchanges.pop(("b", 0))
    del exchanges[("b", 1)]
    exchanges.pop(("b", 2))
    assert exchanges.pop(("x", 9), None) is None
    assert set(exchanges.by_remote) == {"a", "c"}
    assert list(exchanges) == [(r, m) for r in "ac" for m in range(3)]
    exchanges.first = "c"
    ordered = list(exchanges.keys())
    assert sorted(ordered[:3]) == [("c", 0), ("c", 1), ("c", 2)]
    assert sorted(ordered) == sorted(dict.keys(exchanges))  # each once, none lost
    exchanges.first = "b"  # a remote with none: plain order
    assert list(exchanges) == [(r, m) for r in "ac" for m in range(3)]


async def test_received_requests_are_remembered_for_the_exchange_lifetime_and_then_forgotten() -> (
    None
):
    """The duplicate memory (RFC 7252 §4.5) keeps an answer as its bytes, and forgets each
    request EXCHANGE_LIFETIME after it came, in order, under one timer."""
    from types import SimpleNamespace

    from lwm2m_gateway.coap_messages import MessageLayer, SentAnswer

    tokens = SimpleNamespace(log=logging.getLogger("test"), loop=asyncio.get_running_loop())
    layer = MessageLayer(tokens)
    tuning = SimpleNamespace(EXCHANGE_LIFETIME=0.2)

    def received(mid: int) -> SimpleNamespace:
        return SimpleNamespace(remote="device", mid=mid, mtype=aiocoap.CON, transport_tuning=tuning)

    assert layer._deduplicate_message(received(1)) is False
    await asyncio.sleep(0.1)
    assert layer._deduplicate_message(received(2)) is False
    answer = aiocoap.Message(code=aiocoap.CREATED, payload=b"hi")
    answer.mid, answer.mtype, answer.token, answer.remote = 1, aiocoap.ACK, b"t", "device"
    layer._store_response_for_duplicates(answer)
    kept = layer._recent_messages[("device", 1)]
    assert isinstance(kept, SentAnswer)
    assert kept.encode() == answer.encode()
    await asyncio.sleep(0.15)  # the first is past its lifetime, the second is not
    assert list(layer._recent_messages) == [("device", 2)]
    await asyncio.sleep(0.1)
    assert layer._recent_messages == {}
    assert layer._expiry is None


async def test_a_notification_between_the_first_answer_and_the_hand_over_is_not_lost() -> None:
    """aiocoap may deliver a notification to its own observation before the gateway takes the
    token over (coap_tokens.FollowingTokens.follow): it is handed on, once, after the caller
    holds the follow."""
    from types import SimpleNamespace

    from lwm2m_gateway.coap_tokens import FollowingTokens

    context = SimpleNamespace(log=logging.getLogger("test"), loop=asyncio.get_running_loop())
    tokens = FollowingTokens(context)
    first = aiocoap.Message(code=aiocoap.CONTENT, payload=b"1")
    first.token, first.remote, first.opt.observe = b"tok", "device", 1
    early = aiocoap.Message(code=aiocoap.CONTENT, payload=b"2")
    early.token, early.remote, early.opt.observe = b"tok", "device", 2
    tokens.outgoing_requests[(b"tok", "device")] = object()  # aiocoap's running observation
    request = SimpleNamespace(observation=SimpleNamespace(_latest_response=early))
    got: list[bytes] = []
    follow = tokens.follow(request, first, lambda m: got.append(m.payload), lambda e: None)
    assert follow is not None
    assert tokens.outgoing_requests == {}  # taken over
    assert got == []  # not before the caller has the follow
    await asyncio.sleep(0)
    assert got == [b"2"]
    assert tokens.process_response(early)  # the same one again: not fresh, still ours
    assert got == [b"2"]


async def test_requests_reusing_one_token_before_an_answer_cost_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A peer reusing a token for new requests before the last is answered made aiocoap warn
    once per datagram: 190 KB of log from bench/fuzz.py's 20,000 datagrams."""
    import aiocoap.resource

    context = await open_context(aiocoap.resource.Site(), bind=("127.0.0.1", 0))
    port = bound_port(context)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
            for mid in range(200):  # CON GET /nowhere, token 0xab, each with its own message id
                raw.sendto(bytes([0x41, 0x01, mid >> 8, mid & 0xFF, 0xAB, 0xB7]) + b"nowhere",
                           ("127.0.0.1", port))  # fmt: skip
            await asyncio.sleep(0.5)
    finally:
        await close_context(context)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) <= 1, [r.getMessage()[:80] for r in warnings][:3]  # (one a minute)
