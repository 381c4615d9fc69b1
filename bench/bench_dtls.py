"""DTLS-PSK benchmark: handshakes and registrations/s, and notification throughput, over DTLS
beside plain CoAP; prints figures, asserts nothing.

    .venv/bin/python bench/bench_dtls.py --devices 200 --rate 200 --duration 10

Runs the real gateway process; the devices are the simulator's (aiocoap clients, tinydtls for
DTLS), in this process, all on 127.0.0.1. Each device registers (a DTLS handshake first, for the
DTLS run; then the gateway's Discover and Read of every object), is observed through the API,
and notifies with its send time as the value. A bare aiocoap server (stock tinydtls server
transport, one resource) answering one POST per client gives the handshake baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "gateway"))
from bench_gateway import ApiClient, percentile, rss_kib, start_gateway_process

from lwm2m_gateway.lwm2m.paths import Path as Lwm2mPath
from lwm2m_gateway.simulator import SimulatedDevice

KEY = bytes(range(16))


async def run_mode(
    api: ApiClient, mode: str, uri: str, args: argparse.Namespace
) -> tuple[dict[str, float], list[SimulatedDevice]]:
    names = [f"{mode}-{i:04d}" for i in range(args.devices)]
    if mode == "dtls":
        for name in names:
            await api.command("set_credentials", endpoint=name, identity=name, key=KEY.hex())
    api.inventoried, api.expected = 0, args.devices
    api.all_inventoried.clear()
    semaphore = asyncio.Semaphore(args.concurrency)
    devices: list[SimulatedDevice] = []

    failed: list[str] = []

    async def start(name: str) -> None:
        psk = (name, KEY) if mode == "dtls" else None
        device = SimulatedDevice(name, uri, psk=psk, auto_update=False, lifetime=3600)
        async with semaphore:
            try:
                await device.start()
            except (RuntimeError, TimeoutError, OSError) as err:
                failed.append(f"{name}: {type(err).__name__} {err}")
                return
        devices.append(device)

    started = time.perf_counter()
    await asyncio.gather(*(start(n) for n in names))
    handshakes_s = len(devices) / (time.perf_counter() - started)  # until every 2.01
    api.expected = len(devices)
    if api.inventoried >= api.expected:
        api.all_inventoried.set()
    await asyncio.wait_for(api.all_inventoried.wait(), 600)
    registered_s = len(devices) / (time.perf_counter() - started)  # until inventoried
    names = [d.endpoint for d in devices]
    if failed:
        print(f"{mode}: {len(failed)} devices did not register, e.g. {failed[0]}", file=sys.stderr)

    async def observe(name: str) -> None:
        async with semaphore:
            await api.command("observe", endpoint=name, path="/3303/0/5700")

    await asyncio.gather(*(observe(n) for n in names))
    api.latencies.clear()
    api.changes = 0
    interval, sent = 1.0 / args.rate, 0
    deadline = time.perf_counter() + args.duration
    path = Lwm2mPath(3303, 0, 5700)
    while time.perf_counter() < deadline:
        devices[sent % len(devices)].set_value(path, time.time())
        sent += 1
        await asyncio.sleep(interval)
    await asyncio.sleep(1.0)  # the last notifications
    return {
        "devices that did not register": len(failed),
        "register/s (handshake + Register answered)": handshakes_s,
        "registrations/s (inventoried, unpaced)": registered_s,
        "notifications sent": sent,
        "delivered to the API": api.changes,
        "latency p50 ms": 1000 * percentile(api.latencies, 0.5),
        "latency p99 ms": 1000 * percentile(api.latencies, 0.99),
    }, devices


async def bench_gateway(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as data_dir:
        proc, coap_port, coaps_port, api_url = await start_gateway_process(
            data_dir, settings="inventory_rate = 0\n"
        )
        try:
            async with aiohttp.ClientSession() as session, session.ws_connect(api_url) as ws:
                await ws.receive_json()
                api = ApiClient(ws)
                await api.command("start_listening")
                for mode, uri in (
                    ("plain", f"coap://127.0.0.1:{coap_port}"),
                    ("dtls", f"coaps://127.0.0.1:{coaps_port}"),
                ):
                    before = rss_kib(proc.pid)
                    figures, devices = await run_mode(api, mode, uri, args)
                    figures["RSS per device KiB"] = (rss_kib(proc.pid) - before) / args.devices
                    results[mode] = figures
                    for device in devices:
                        with contextlib.suppress(Exception):
                            await device.stop()
                api.reader.cancel()
        finally:
            proc.terminate()
            await proc.wait()
    return results


async def bench_bare(args: argparse.Namespace) -> float:
    """Handshakes + one POST a second against aiocoap's stock tinydtls server."""
    import aiocoap
    import aiocoap.resource
    from aiocoap.numbers.codes import Code
    from bench_gateway import free_udp_port

    class Sink(aiocoap.resource.Resource):  # type: ignore[misc]
        async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
            return aiocoap.Message(code=Code.CREATED)

    site = aiocoap.resource.Site()
    site.add_resource(["rd"], Sink())
    credentials = aiocoap.credentials.CredentialsMap()
    for i in range(args.devices):
        name = f"bare-{i:04d}".encode()
        credentials.load_from_dict({f":{i}": {"dtls": {"psk": KEY, "client-identity": name}}})
    port = free_udp_port()
    # the stock transport binds the given port plus one (COAPS - COAP)
    server = await aiocoap.Context.create_server_context(
        site, bind=("127.0.0.1", port - 1), transports=["tinydtls_server"],
        server_credentials=credentials,
    )  # fmt: skip
    semaphore = asyncio.Semaphore(args.concurrency)
    clients: list[Any] = []

    async def one(i: int) -> None:
        client = await aiocoap.Context.create_client_context(transports=["tinydtls"])
        client.client_credentials.load_from_dict(
            {f"coaps://127.0.0.1:{port}/*": {"dtls": {"psk": KEY, "client-identity":
                                                       f"bare-{i:04d}".encode()}}}
        )  # fmt: skip
        clients.append(client)
        async with semaphore:
            request = aiocoap.Message(code=Code.POST, uri=f"coaps://127.0.0.1:{port}/rd")
            await client.request(request).response

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(args.devices)))
    rate = float(args.devices / (time.perf_counter() - started))
    for client in clients:
        await client.shutdown()
    await server.shutdown()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--rate", type=float, default=200.0, help="notifications a second")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    results = asyncio.run(bench_gateway(args))
    bare = asyncio.run(bench_bare(args))
    print(f"{args.devices} devices, {args.rate:g} notifications/s for {args.duration:g} s")
    names = list(results["plain"])
    print(f"{'figure':44} {'plain':>10} {'dtls':>10}")
    for name in names:
        print(f"{name:44} {results['plain'][name]:10.1f} {results['dtls'][name]:10.1f}")
    print(f"{'bare aiocoap DTLS: handshake + POST /s':44} {'':>10} {bare:10.1f}")
    ratio = results["dtls"]["register/s (handshake + Register answered)"] / bare
    print(f"{'gateway / bare (handshake + Register)':44} {'':>10} {ratio:10.2f}")


if __name__ == "__main__":
    main()
