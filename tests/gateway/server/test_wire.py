"""The gateway's requests as they leave it: method, options and payload bytes on the wire.

The peer is a scripted raw-UDP device (tests/gateway/rawdevice.py) whose payloads are written by
hand from the specifications, so a bug shared by the gateway's encoder and decoder shows here.
"""

from __future__ import annotations

import asyncio
import itertools
import json

import aiocoap
import cbor2
import pytest
from aiocoap.numbers.codes import Code
from aiocoap.numbers.types import Type

from lwm2m_gateway.lwm2m.errors import DeviceTimeout
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.lwm2m.values import Record
from lwm2m_gateway.server import Lwm2mServer
from tests.gateway.conftest import Events, ServerFactory, until
from tests.gateway.rawdevice import RawDevice, Reply

CHANGED: Reply = (Code.CHANGED, None, b"")


def accept_everything(message: aiocoap.Message) -> Reply:
    if message.code == Code.GET and message.opt.uri_path[-1:] == ("0",):
        return Code.CONTENT, 0, b"ACME"  # text/plain, for reads of /x/y/0
    if message.code == Code.GET:
        return Code.CONTENT, 11542, b"\xc3\x00ACM"
    if message.code == Code.POST and len(message.opt.uri_path) == 1:
        return Code.CREATED, None, b""
    if message.code == Code.DELETE:
        return Code.DELETED, None, b""
    return CHANGED


@pytest.fixture
async def wired(make_server: ServerFactory) -> tuple[Lwm2mServer, Events]:
    """A server that sends nothing unasked (no inventory), so every request is the test's."""
    return await make_server(initial_read=False)


async def register(
    lwm2m: Lwm2mServer, events: Events, name: str, links: bytes, version: str = "1.1"
) -> RawDevice:
    device = await RawDevice.start(accept_everything)
    answer = await device.request(
        lwm2m.coap_port, Code.POST, "/rd", [f"ep={name}", "lt=60", f"lwm2m={version}"], links
    )
    assert answer.code == Code.CREATED
    await events.wait("endpoint_registered", name)
    return device


async def test_single_resource_write_in_lwm2m_json_names_the_resource_under_its_instance(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await register(lwm2m, events, "json", b'</>;rt="oma.lwm2m";ct=11543,</3/0>')
    await lwm2m.device.write("json", Path(3, 0, 14), [Record(Path(3, 0, 14), "+02")], replace=True)
    request = (await device.next_request()).message
    assert request.code == Code.PUT
    assert request.opt.uri_path == ("3", "0", "14")
    assert request.opt.content_format == 11543
    # LwM2M 1.1 core §7.4.4 (JSON): bn is the instance, n the resource (what clients parse)
    assert json.loads(request.payload) == {"bn": "/3/0/", "e": [{"n": "14", "sv": "+02"}]}
    device.close()


async def test_single_resource_write_in_tlv_is_the_resource_tlv_alone(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await register(lwm2m, events, "tlv", b'</>;rt="oma.lwm2m";ct=11542,</3/0>')
    await lwm2m.device.write("tlv", Path(3, 0, 14), [Record(Path(3, 0, 14), "+02")], replace=True)
    request = (await device.next_request()).message
    assert (request.code, request.opt.content_format) == (Code.PUT, 11542)
    # type 0b11 (resource with value), 8-bit id, length 3 in the type byte: C3 0E "+02"
    assert request.payload.hex(" ") == "c3 0e 2b 30 32"
    device.close()


async def test_partial_instance_update_in_tlv_is_a_post_of_resource_tlvs(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await register(lwm2m, events, "tlv2", b'</>;rt="oma.lwm2m";ct=11542,</1/0>')
    records = [Record(Path(1, 0, 1), 300), Record(Path(1, 0, 6), True)]
    await lwm2m.device.write("tlv2", Path(1, 0), records, replace=False)
    request = (await device.next_request()).message
    assert request.code == Code.POST
    assert request.opt.uri_path == ("1", "0")
    # lifetime 300: C2 01 012C (2-byte integer); notification storing true: C1 06 01
    assert request.payload.hex(" ") == "c2 01 01 2c c1 06 01"
    device.close()


async def test_senml_cbor_write_carries_the_full_path_and_a_half_float(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await register(lwm2m, events, "cbor", b'</>;rt="oma.lwm2m";ct=112,</3303/0>')
    path = Path(3303, 0, 5700)
    await lwm2m.device.write("cbor", path, [Record(path, 21.5)], replace=True)
    request = (await device.next_request()).message
    assert (request.code, request.opt.content_format) == (Code.PUT, 112)
    (item,) = cbor2.loads(request.payload)
    assert item.get(-2, "") + item.get(0, "") == "/3303/0/5700"  # RFC 8428: bn -2, n 0
    assert item[2] == 21.5  # v
    assert request.payload.endswith(bytes.fromhex("02 f9 4d 60"))  # v: half-precision 21.5
    device.close()


async def test_execute_write_attributes_and_delete_on_the_wire(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await register(lwm2m, events, "ops", b'</>;rt="oma.lwm2m",</3/0>,</3303/0>')
    await lwm2m.device.execute("ops", Path(3, 0, 4), "0='now'")
    execute = (await device.next_request()).message
    assert (execute.code, execute.opt.uri_path) == (Code.POST, ("3", "0", "4"))
    assert (execute.opt.content_format, execute.payload) == (0, b"0='now'")

    attributes = {"pmin": 10.0, "pmax": 60.0, "gt": 25.5, "st": None}
    await lwm2m.device.write_attributes("ops", Path(3303, 0, 5700), attributes)
    put = (await device.next_request()).message
    assert (put.code, put.payload) == (Code.PUT, b"")
    assert put.opt.uri_query == ("pmin=10", "pmax=60", "gt=25.5", "st")

    await lwm2m.device.delete("ops", Path(3303, 0))
    delete = (await device.next_request()).message
    assert (delete.code, delete.opt.uri_path) == (Code.DELETE, ("3303", "0"))
    device.close()


async def test_requests_go_under_the_alternate_root_path(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    links = b'</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>,</lwm2m/3303/0>;ver=1.1'
    device = await register(lwm2m, events, "alt", links)
    (record,) = await lwm2m.device.read("alt", [Path(3, 0, 0)])
    request = (await device.next_request()).message
    assert request.opt.uri_path == ("lwm2m", "3", "0", "0")
    assert record.value == "ACME"
    device.close()


async def test_observe_and_active_cancel_carry_observe_0_then_1(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await register(lwm2m, events, "obs", b'</>;rt="oma.lwm2m",</3/0>')
    await lwm2m.observations.observe("obs", [Path(3, 0, 0)])
    observe = (await device.next_request()).message
    assert (observe.code, observe.opt.observe) == (Code.GET, 0)
    await lwm2m.observations.cancel_observe("obs", [Path(3, 0, 0)], active=True)
    cancel = (await device.next_request()).message
    assert (cancel.code, cancel.opt.observe, cancel.opt.uri_path) == (Code.GET, 1, ("3", "0", "0"))
    assert lwm2m.observations.live_keys("obs") == []
    device.close()


async def test_composite_observe_is_a_fetch_with_observe_and_each_path_notifies(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await register(lwm2m, events, "comp", b'</>;rt="oma.lwm2m";ct=110,</3/0>,</3303/0>')

    def senml(message: aiocoap.Message) -> Reply:
        body = b'[{"n":"/3303/0/5700","v":20.5},{"n":"/3/0/9","v":80}]'
        return Code.CONTENT, 110, body

    device.script = senml
    await lwm2m.observations.observe("comp", [Path(3303, 0, 5700), Path(3, 0, 9)])
    fetch = (await device.next_request()).message
    assert (fetch.code, fetch.opt.observe, fetch.opt.uri_path) == (Code.FETCH, 0, ())
    assert (fetch.opt.content_format, fetch.opt.accept) == (110, 110)
    assert json.loads(fetch.payload) == [{"n": "/3303/0/5700"}, {"n": "/3/0/9"}]
    device.notify(
        lwm2m.coap_port, fetch, 2, 110, b'[{"n":"/3303/0/5700","v":22.25},{"n":"/3/0/9","v":79}]'
    )
    await events.wait("resource_changed", "comp", path="/3303/0/5700", value=22.25)
    await events.wait("resource_changed", "comp", path="/3/0/9", value=79)
    device.close()


async def test_a_large_write_goes_block1_and_a_large_read_comes_block2(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await register(lwm2m, events, "blocks", b'</>;rt="oma.lwm2m";ct=11542,</5/0>')
    image = bytes(range(256)) * 12  # 3072 bytes
    package = Path(5, 0, 0)
    await lwm2m.device.write(
        "blocks", package, [Record(package, image)], replace=True, block_size=256
    )
    blocks = [r.message.opt.block1 for r in device.received]
    assert [(b.block_number, b.size) for b in blocks] == [(n, 256) for n in range(len(blocks))]
    assert [b.more for b in blocks] == [True] * (len(blocks) - 1) + [False]
    sent = b"".join(r.message.payload for r in device.received)
    assert sent[-len(image) :] == image  # TLV header, then the image, split into 256-byte blocks

    device.received.clear()
    text = "x" * 3000

    def large(message: aiocoap.Message) -> Reply:
        return Code.CONTENT, 0, text.encode()

    device.script = large
    (record,) = await lwm2m.device.read("blocks", [Path(5, 0, 6)])
    assert record.value == text
    asked = [r.message.opt.block2 for r in device.received]
    assert asked[0] is None  # the first request asks for the whole; the device answers in blocks
    assert [b.block_number for b in asked[1:]] == [1, 2]
    device.close()


async def test_request_tokens_are_random_64_bit_values(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await register(lwm2m, events, "tokens", b'</>;rt="oma.lwm2m",</3/0>')
    for _ in range(20):
        await lwm2m.device.read("tokens", [Path(3, 0, 0)])
    tokens = [r.message.token for r in device.received]
    assert all(len(token) == 8 for token in tokens)
    numbers = sorted(int.from_bytes(token, "big") for token in tokens)
    assert len(set(numbers)) == 20
    # not a counter: aiocoap's own tokens count up by one from a random start
    assert min(b - a for a, b in itertools.pairwise(numbers)) > 1
    device.close()


async def test_a_malformed_notification_is_dropped_and_the_observation_lives_on(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await register(lwm2m, events, "bad-notify", b'</>;rt="oma.lwm2m";ct=110,</3303/0>')

    def senml(message: aiocoap.Message) -> Reply:
        return Code.CONTENT, 110, b'[{"n":"/3303/0/5700","v":20.5}]'

    device.script = senml
    await lwm2m.observations.observe("bad-notify", [Path(3303, 0)])
    observe = (await device.next_request()).message
    for sequence, body in enumerate(
        [
            '[{"n":"/3303/0/²","v":1}]'.encode(),  # "²".isdigit() is True; int("²") raises
            b'[{"n":"/3303/0/5700","v":"warm"}]',  # a string for a float
            b"\xff\xfe not json",
            b'[{"n":"/3303/0/5700","v":22.75}]',
        ],
        start=2,
    ):
        device.notify(lwm2m.coap_port, observe, sequence, 110, body)
    await events.wait("resource_changed", "bad-notify", path="/3303/0/5700", value=22.75)
    assert lwm2m.observations.live_keys("bad-notify") == ["/3303/0"]
    device.close()


async def test_a_write_refused_in_one_format_is_retried_in_the_next(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await register(lwm2m, events, "picky-json", b'</>;rt="oma.lwm2m";ct=11543,</3/0>')

    def refuse_json(message: aiocoap.Message) -> Reply:
        if message.opt.content_format == 11543:
            return Code.BAD_REQUEST, None, b"cannot parse that JSON"
        return CHANGED

    device.script = refuse_json
    await lwm2m.device.write(
        "picky-json", Path(3, 0, 14), [Record(Path(3, 0, 14), "+02")], replace=True
    )
    formats = [r.message.opt.content_format for r in device.received]
    assert formats[0] == 11543
    assert len(formats) == 2
    assert lwm2m.registrations.get("picky-json").formats["write"] == formats[1]
    device.close()


async def test_a_device_ignoring_fetch_gets_single_reads_within_seconds_and_from_then_on(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await register(lwm2m, events, "no-fetch", b'</>;rt="oma.lwm2m";ct=110,</3/0>')

    def no_fetch(message: aiocoap.Message) -> Reply | None:
        if message.code in (Code.FETCH, Code.iPATCH):
            return None  # an empty ACK, then silence
        return Code.CONTENT, 0, ("ACME" if message.opt.uri_path[-1] == "0" else "Sensor").encode()

    device.script = no_fetch
    started = asyncio.get_running_loop().time()
    records = await lwm2m.device.read("no-fetch", [Path(3, 0, 0), Path(3, 0, 1)])
    assert asyncio.get_running_loop().time() - started < 10  # not the 30 s request timeout
    assert {(r.path, r.value) for r in records} == {
        (Path(3, 0, 0), "ACME"), (Path(3, 0, 1), "Sensor"),
    }  # fmt: skip
    device.received.clear()
    await lwm2m.device.read("no-fetch", [Path(3, 0, 0), Path(3, 0, 1)])
    assert [r.message.code for r in device.received] == [Code.GET, Code.GET]  # remembered
    device.close()


async def ended_observation(lwm2m: Lwm2mServer, events: Events, name: str) -> RawDevice:
    """A registered raw device whose observation of /3/0/0 died silently (as when a NAT
    forgets the mapping, or aiocoap gives up on it): stored, but nothing live."""
    device = await register(lwm2m, events, name, b'</>;rt="oma.lwm2m",</3/0>')
    await lwm2m.observations.observe(name, [Path(3, 0, 0)])
    await device.next_request()
    lwm2m.observations.restart(name, "/3/0/0")
    assert lwm2m.observations.live_keys(name) == []
    assert list(lwm2m.observations.missing(name)) == ["/3/0/0"]
    return device


async def test_an_observation_ended_by_the_device_is_observed_again(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await register(lwm2m, events, "ended", b'</>;rt="oma.lwm2m",</3/0>')
    await lwm2m.observations.observe("ended", [Path(3, 0, 0)])
    observe = (await device.next_request()).message
    ended = aiocoap.Message(code=Code.SERVICE_UNAVAILABLE)  # the device ends it (an error)
    ended.mtype, ended.mid, ended.token = Type.NON, 0x7777, observe.token
    assert device.transport is not None
    device.transport.sendto(ended.encode(), ("127.0.0.1", lwm2m.coap_port))
    again = (await device.next_request()).message  # that contact brings it back
    assert (again.code, again.opt.observe, again.opt.uri_path) == (Code.GET, 0, ("3", "0", "0"))
    device.close()


async def test_an_observation_that_died_comes_back_on_the_devices_next_update(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await ended_observation(lwm2m, events, "healing")
    registration_id = lwm2m.registrations.get("healing").registration.registration_id
    await device.request(lwm2m.coap_port, Code.POST, f"/rd/{registration_id}", [])
    again = (await device.next_request()).message
    assert (again.code, again.opt.observe, again.opt.uri_path) == (Code.GET, 0, ("3", "0", "0"))
    device.close()


async def test_a_watchdog_re_observes_without_the_device_speaking(
    make_server: ServerFactory,
) -> None:
    lwm2m, events = await make_server(initial_read=False, watchdog_interval=0.3)
    device = await ended_observation(lwm2m, events, "watched")
    again = (await device.next_request(wait_s=3)).message
    assert (again.code, again.opt.observe) == (Code.GET, 0)
    device.close()


async def test_a_device_that_stopped_listening_is_unreachable_until_it_speaks(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device = await register(lwm2m, events, "gone-quiet", b'</>;rt="oma.lwm2m",</3/0>')
    registration_id = lwm2m.registrations.get("gone-quiet").registration.registration_id
    port = device.transport.get_extra_info("sockname")[1] if device.transport else 0
    device.close()  # its port now answers ICMP port unreachable
    with pytest.raises(DeviceTimeout, match="unreachable"):
        await lwm2m.device.read("gone-quiet", [Path(3, 0, 0)])
    unreachable = await events.wait("endpoint_unreachable", "gone-quiet")
    assert unreachable.data["endpoint"] == "gone-quiet"
    assert lwm2m.registrations.describe("gone-quiet")["reachable"] is False
    back = await RawDevice.start(accept_everything, port=port)
    await back.request(lwm2m.coap_port, Code.POST, f"/rd/{registration_id}", [])
    await events.wait("endpoint_reachable", "gone-quiet")
    assert lwm2m.registrations.describe("gone-quiet")["reachable"] is True
    back.close()


async def test_an_unreachable_device_never_fails_another_devices_requests(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    innocent = await register(lwm2m, events, "innocent", b'</>;rt="oma.lwm2m",</3/0>')
    await lwm2m.observations.observe("innocent", [Path(3, 0, 0)])
    await innocent.next_request()
    for n in range(5):
        gone = await register(lwm2m, events, f"gone-{n}", b'</>;rt="oma.lwm2m",</3/0>')
        gone.close()  # its port now answers ICMP port unreachable
        with pytest.raises(DeviceTimeout, match="unreachable"):
            await lwm2m.device.read(f"gone-{n}", [Path(3, 0, 0)])
        (record,) = await lwm2m.device.read("innocent", [Path(3, 0, 0)])
        assert record.value == "ACME"
    assert lwm2m.registrations.describe("innocent")["reachable"] is True
    assert lwm2m.observations.live_keys("innocent") == ["/3/0/0"]
    innocent.close()


async def test_a_flood_of_silent_registrations_is_inventoried_a_few_at_a_time_each_once(
    make_server: ServerFactory,
) -> None:
    lwm2m, _ = await make_server(
        register_rate=0, inventory_concurrency=4, inventory_rate=0, request_timeout=0.5
    )

    def silent(message: aiocoap.Message) -> Reply | None:
        return None  # acknowledges and never answers: every inventory request hangs

    devices = []
    for n in range(20):
        device = await RawDevice.start(silent)
        devices.append(device)
        answer = await device.request(lwm2m.coap_port, Code.POST, "/rd", [f"ep=silent-{n}"],
                                      b'</>;rt="oma.lwm2m",</3/0>,</3303/0>')  # fmt: skip
        assert answer.code == Code.CREATED  # every Register is answered at once
    await until(lambda: lwm2m.inventory.running == 4)
    assert lwm2m.inventory.waiting == 16  # the rest wait their turn: none is skipped
    assert sum(len(d.received) for d in devices) <= 4  # only the running ones have a request out
    # each stops at its first unanswered request (not one timeout per object), then the next go
    await until(lambda: all(len(d.received) == 1 for d in devices), wait_s=10)
    await until(lambda: lwm2m.inventory.waiting == 0 and lwm2m.inventory.running == 0)
    assert [len(d.received) for d in devices] == [1] * 20
    assert lwm2m.inventory.completed == 0  # none of them is inventoried: none answered
    assert len(lwm2m.registrations.names()) == 20
    for device in devices:
        device.close()


async def test_a_silent_observation_is_taken_for_dead_and_made_again(
    make_server: ServerFactory,
) -> None:
    lwm2m, events = await make_server(
        initial_read=False, watchdog_interval=0.3, observation_silence=0.5
    )
    device = await register(lwm2m, events, "too-quiet", b'</>;rt="oma.lwm2m",</3/0>')
    await lwm2m.observations.observe("too-quiet", [Path(3, 0, 0)])
    first = (await device.next_request()).message
    again = (await device.next_request(wait_s=5)).message  # no notification came: observed anew
    assert (again.code, again.opt.observe) == (Code.GET, 0)
    assert again.token != first.token
    device.close()


async def test_an_observe_answered_without_observe_is_a_read_and_is_not_healed(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    """RFC 7641 §3.1: no Observe option in the answer means it will not notify. Kept as a
    dead observation, every contact of the device would ask again."""
    lwm2m, events = wired
    device = await register(lwm2m, events, "unobservable", b'</>;rt="oma.lwm2m",</3/0>')
    device.observable = False
    (record,) = await lwm2m.observations.observe("unobservable", [Path(3, 0, 0)])
    assert record.value == "ACME"  # the answer's value, as a read
    assert lwm2m.store.load_observations_of("unobservable") == {}
    assert lwm2m.observations.missing("unobservable") == {}  # nothing to re-observe
    asked = len(device.received)
    registration_id = lwm2m.registrations.get("unobservable").registration.registration_id
    await device.request(lwm2m.coap_port, Code.POST, f"/rd/{registration_id}", [])  # a contact
    await asyncio.sleep(0.3)
    assert len(device.received) == asked  # not asked again
    device.close()


async def test_observations_whose_values_come_in_blocks_get_the_whole_value(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    """Observations use aiocoap's bare requests (no block-wise layer): an answer in blocks is
    followed on its token and its value read whole, as a notification in blocks is."""
    lwm2m, events = wired
    value = {"text": "ACME"}

    def script(message: aiocoap.Message) -> Reply:
        return Code.CONTENT, 0, value["text"].encode()  # text/plain, in blocks past 1024 bytes

    device = await RawDevice.start(script)
    answer = await device.request(lwm2m.coap_port, Code.POST, "/rd", ["ep=big", "lt=60"],
                                  b'</>;rt="oma.lwm2m",</3/0>')  # fmt: skip
    assert answer.code == Code.CREATED
    value["text"] = "A" * 3000
    (record,) = await lwm2m.observations.observe("big", [Path(3, 0, 0)])
    assert record.value == "A" * 3000
    live = [r.message for r in device.received if r.message.opt.observe == 0]
    assert len(live) == 1  # observed once; its first block came, so the rest was read
    reads = [r.message for r in device.received if r.message.opt.observe is None]
    assert [r.opt.block2.block_number for r in reads if r.opt.block2] == [1, 2]
    assert lwm2m.observations.live_keys("big") == ["/3/0/0"]
    value["text"] = "D"  # and the observed token notifies
    (observe,) = live
    note = aiocoap.Message(code=Code.CONTENT, payload=b"D")
    note.mtype, note.mid, note.token = Type.NON, 4241, observe.token
    note.opt.observe, note.opt.content_format = 3, 0
    assert device.transport is not None
    device.transport.sendto(note.encode(), ("127.0.0.1", lwm2m.coap_port))
    await events.wait("resource_changed", "big", path="/3/0/0", value="D")

    small = await register(lwm2m, events, "small", b'</>;rt="oma.lwm2m",</3/0>')
    small.script = script
    value["text"] = "B"
    await lwm2m.observations.observe("small", [Path(3, 0, 0)])
    observe = next(r.message for r in small.received if r.message.opt.observe == 0)
    value["text"] = "C" * 2500  # the next notification does not fit: its first block comes
    first = aiocoap.Message(code=Code.CONTENT, payload=value["text"].encode()[:1024])
    first.mtype, first.mid, first.token = Type.NON, 4242, observe.token
    first.opt.observe, first.opt.content_format = 2, 0
    first.opt.block2 = aiocoap.optiontypes.BlockOption.BlockwiseTuple(0, True, 6)
    assert small.transport is not None
    small.transport.sendto(first.encode(), ("127.0.0.1", lwm2m.coap_port))
    changed = await events.wait("resource_changed", "small", path="/3/0/0", value="C" * 2500)
    assert changed.data["value"] == "C" * 2500
    assert lwm2m.observations.live_keys("small") == ["/3/0/0"]  # and it goes on
    device.close()
    small.close()


async def observed_temperature(
    lwm2m: Lwm2mServer, events: Events, name: str
) -> tuple[RawDevice, aiocoap.Message]:
    device = await register(lwm2m, events, name, b'</>;rt="oma.lwm2m";ct=110,</3303/0>')

    def senml(message: aiocoap.Message) -> Reply:
        return Code.CONTENT, 110, b'[{"n":"/3303/0/5700","v":20.5}]'

    device.script = senml
    await lwm2m.observations.observe(name, [Path(3303, 0, 5700)])
    return device, (await device.next_request()).message


def temperatures(events: Events, name: str) -> list[object]:
    return [e.data["value"] for e in events.seen
            if e.endpoint == name and e.name == "resource_changed"]  # fmt: skip


async def test_notifications_older_than_the_last_or_repeated_are_dropped(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    """RFC 7641 §3.4: a notification is fresh only if its Observe number is ahead of the last
    fresh one's (modulo 2^24); a reordered or repeated one must not overwrite a newer value."""
    lwm2m, events = wired
    device, observe = await observed_temperature(lwm2m, events, "ordered")
    for sequence, value in [(5, 1.5), (4, 2.5), (5, 3.5), (6, 4.5), (2**24 - 1, 5.5), (7, 6.5)]:
        body = f'[{{"n":"/3303/0/5700","v":{value}}}]'.encode()
        device.notify(lwm2m.coap_port, observe, sequence, 110, body)
        await asyncio.sleep(0.02)  # in this order
    await events.wait("resource_changed", "ordered", value=6.5)
    # 4 is behind 5, the second 5 is no news, 2^24-1 is far behind 6 (a wrap the other way)
    assert temperatures(events, "ordered") == [20.5, 1.5, 4.5, 6.5]
    device.close()


async def confirmable(
    lwm2m: Lwm2mServer, device: RawDevice, observe: aiocoap.Message, body: bytes, mid: int
) -> aiocoap.Message:
    """A confirmable notification (Observe number 2), and the gateway's ACK or RST."""
    answer = device.notify(lwm2m.coap_port, observe, 2, 110, body, mid=mid)
    assert answer is not None
    return await asyncio.wait_for(answer, 5)


async def test_a_confirmable_notification_is_acknowledged_once_delivered_and_again_if_repeated(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    lwm2m, events = wired
    device, observe = await observed_temperature(lwm2m, events, "confirmed")
    body = b'[{"n":"/3303/0/5700","v":30.25}]'
    ack = await confirmable(lwm2m, device, observe, body, 777)
    assert (ack.mtype, ack.code) == (Type.ACK, Code.EMPTY)
    again = await confirmable(lwm2m, device, observe, body, 777)  # as if our ACK was lost
    assert again.mtype == Type.ACK
    await asyncio.sleep(0.1)
    assert temperatures(events, "confirmed") == [20.5, 30.25]  # delivered once
    device.close()


async def test_a_cancelled_observation_resets_its_next_confirmable_notification(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    """RFC 7641 §3.6: after a passive cancel, the device learns of it by a Reset."""
    lwm2m, events = wired
    device, observe = await observed_temperature(lwm2m, events, "forgotten")
    await lwm2m.observations.cancel_observe("forgotten", [Path(3303, 0, 5700)], active=False)
    reset = await confirmable(lwm2m, device, observe, b'[{"v":1}]', 778)
    assert reset.mtype == Type.RST
    assert temperatures(events, "forgotten") == [20.5]
    device.close()


async def test_an_established_observation_keeps_no_aiocoap_request(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    """Once its first answer came, an observation is followed at the token layer alone:
    aiocoap's table of running requests (a request, pipe and runner each, about 7 KiB) does
    not grow with the observations."""
    lwm2m, events = wired
    devices = [(await observed_temperature(lwm2m, events, f"kept-{i}"))[0] for i in range(5)]
    context = lwm2m.transport._plain
    assert context is not None
    (tokens,) = context.request_interfaces
    assert tokens.outgoing_requests == {}
    assert tokens.following == 5
    for device in devices:
        device.close()


async def test_a_repeated_register_is_answered_again_alike_and_registers_once(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    """RFC 7252 §4.5: a confirmable request whose ACK was lost comes again with its message
    id; it gets the same answer again and is not acted on twice."""
    lwm2m, events = wired
    device = await RawDevice.start(accept_everything)
    query, links = ["ep=twice", "lt=60"], b'</>;rt="oma.lwm2m",</3/0>'
    first = await device.request(lwm2m.coap_port, Code.POST, "/rd", query, links, mid=4711)
    again = await device.request(lwm2m.coap_port, Code.POST, "/rd", query, links, mid=4711)
    assert first.code == Code.CREATED
    # the same answer: the same registration id
    assert (again.code, again.mid, again.token) == (first.code, first.mid, first.token)
    assert again.opt.location_path == first.opt.location_path
    await asyncio.sleep(0.2)
    assert events.names("twice").count("endpoint_registered") == 1
    device.close()


async def test_followed_tokens_end_with_their_registrations(
    wired: tuple[Lwm2mServer, Events],
) -> None:
    """A token followed for an observation is let go when the registration ends or is replaced
    by a new Register: thousands of devices coming and going leave nothing behind."""
    lwm2m, events = wired
    context = lwm2m.transport._plain
    assert context is not None
    (tokens,) = context.request_interfaces
    devices = [(await observed_temperature(lwm2m, events, f"cycle-{i}"))[0] for i in range(3)]
    assert tokens.following == 3
    gone = lwm2m.registrations.get("cycle-0").registration.registration_id
    assert (await devices[0].request(lwm2m.coap_port, Code.DELETE, f"/rd/{gone}", [])).code == (
        Code.DELETED
    )
    answer = await devices[1].request(lwm2m.coap_port, Code.POST, "/rd", ["ep=cycle-1", "lt=60"],
                                      b'</>;rt="oma.lwm2m";ct=110,</3303/0>')  # fmt: skip
    assert answer.code == Code.CREATED  # registered anew: its stored observation is made again
    observes = [r.message for r in devices[1].received if r.message.opt.observe == 0]
    assert len(observes) == 1
    await until(lambda: lwm2m.observations.live_keys("cycle-1") == ["/3303/0/5700"])
    await asyncio.sleep(0.3)  # time for a second one, were it sent
    # observed again once, after the 2.01 (not also at once, on the Register as a contact)
    assert [r.message.opt.observe for r in devices[1].received] == [0, 0]
    assert tokens.following == 2  # cycle-1's new one and cycle-2's, not cycle-1's old one
    for device in devices:
        device.close()
