"""Gateway benchmark: N devices register, are observed and notify; prints figures, asserts nothing.

    .venv/bin/python bench/bench_gateway.py --devices 1000 --rate 1000 --duration 10

Runs the real gateway process (`python -m lwm2m_gateway`) and, in a second process, the light load
generator of bench/loadgen.py, all on 127.0.0.1. Prints registrations/s, notifications/s delivered
to a WebSocket client, notify-to-API latency p50/p99 and the gateway's RSS per device; then runs the
same traffic against a bare aiocoap server (accepts Register, observes, counts notifications) for
the ratio of what the LwM2M layers cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
import loadgen

PORTS = re.compile(r"coap=\S*?:(\d+)\b.*?api=ws://([\d.]+):(\d+)/ws coaps=\S*?:?(\d*) ")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- the load generator's process: driven by lines on stdin, answers JSON lines on stdout ---------


async def run_loadgen(
    host: str, port: int, count: int, prefix: str, concurrency: int, *, rich: bool
) -> None:
    devices = await loadgen.open_devices(count, (host, port), prefix, rich=rich)
    started = time.perf_counter()
    failures = await loadgen.register_all(devices, concurrency)
    print(json.dumps({"registered": count - failures, "seconds": time.perf_counter() - started}))
    sys.stdout.flush()
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    while line := (await reader.readline()).decode().split():
        if line[0] == "notify":
            sent = await loadgen.notify_at_rate(devices, float(line[1]), float(line[2]))
            observed = sum(1 for device in devices if device.observations)
            print(json.dumps({"sent": sent, "observed": observed}))
            sys.stdout.flush()
    loadgen.close_all(devices)


class LoadProcess:
    """The load generator in its own process, so devices and gateway do not share one core."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(
        cls, port: int, count: int, prefix: str, concurrency: int, *, rich: bool = False
    ) -> LoadProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--role", "loadgen", "--port", str(port),
            "--devices", str(count), "--prefix", prefix, "--concurrency", str(concurrency),
            *(["--rich"] if rich else []),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(proc)

    async def answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError("load generator exited")
        result: dict[str, Any] = json.loads(line)
        return result

    async def notify(self, rate: float, duration: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"notify {rate} {duration}\n".encode())
        await self.proc.stdin.drain()
        return await self.answer()

    async def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()


# --- the gateway run ---------------------------------------------------------------------------


async def start_gateway(data_dir: str) -> tuple[asyncio.subprocess.Process, int, str]:
    proc, coap_port, _, api_url = await start_gateway_process(data_dir)
    return proc, coap_port, api_url


LOGS: dict[int, list[str]] = {}  # by pid: what a captured gateway wrote to stderr


async def start_gateway_process(
    data_dir: str, *, capture: bool = False
) -> tuple[asyncio.subprocess.Process, int, int, str]:
    """The gateway process; its CoAP, coaps and API ports. With capture, its log is kept in
    LOGS[pid] (else discarded)."""
    # thousands of devices register from one host here: no per-source rate limit
    config = Path(data_dir) / "bench.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("register_rate = 0\nmax_endpoints = 100000\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lwm2m_gateway", "--config", str(config), "--coap-port", "0",
        "--coaps-port", "0", "--api-port", "0", "--unknown-endpoints", "accept",
        "--data-dir", data_dir, "--log-level", "INFO",
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stderr is not None
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        if not line:
            raise RuntimeError("gateway exited before listening")
        if match := PORTS.search(line):
            sink = LOGS.setdefault(proc.pid, []) if capture else None
            asyncio.get_running_loop().create_task(drain(proc.stderr, sink))
            coaps = int(match[4]) if match[4] else 0
            return proc, int(match[1]), coaps, f"ws://{match[2]}:{match[3]}/ws"


async def drain(stream: asyncio.StreamReader, sink: list[str] | None = None) -> None:
    while line := await stream.readline():
        if sink is not None:
            sink.append(line.decode("utf-8", "replace"))


class ApiClient:
    """The gateway API as the benchmark sees it: commands, and event counters."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.registered = 0
        self.latencies: list[float] = []
        self.changes = 0
        self.all_registered = asyncio.Event()
        self.expected = 0
        self.reader = asyncio.get_running_loop().create_task(self.read())

    async def read(self) -> None:
        async for frame in self.ws:
            now = time.time()
            decoded = json.loads(frame.data)
            for message in decoded if isinstance(decoded, list) else [decoded]:
                self.handle(message, now)

    def handle(self, message: dict[str, Any], now: float) -> None:
        if message["type"] == "result":
            self.waiting.pop(message["message_id"]).set_result(message)
        elif message["type"] == "event":
            event, data = message["event"], message["data"]
            if event == "endpoint_registered":
                self.registered += 1
                if self.registered >= self.expected:
                    self.all_registered.set()
            elif event == "resource_changed" and isinstance(data.get("value"), float):
                self.changes += 1
                self.latencies.append(now - data["value"])

    async def command(self, command: str, **args: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        await self.ws.send_json({"message_id": self.next_id, "command": command, "args": args})
        return await asyncio.wait_for(future, 120)


async def bench_gateway(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as data_dir:
        proc, coap_port, api_url = await start_gateway(data_dir)
        try:
            async with aiohttp.ClientSession() as session, session.ws_connect(api_url) as ws:
                await ws.receive_json()  # server_info
                api = ApiClient(ws)
                await api.command("start_listening", coalesce=True)
                api.expected = args.devices
                rss_before = rss_kib(proc.pid)
                started, cpu_started = time.perf_counter(), cpu_seconds(proc.pid)
                load = await LoadProcess.start(coap_port, args.devices, "bench-", args.concurrency)
                sent_side = await load.answer()
                await asyncio.wait_for(api.all_registered.wait(), 600)
                registration_s = time.perf_counter() - started
                registration_cpu = cpu_seconds(proc.pid) - cpu_started
                rss_after = rss_kib(proc.pid)

                semaphore = asyncio.Semaphore(args.concurrency)

                async def observe(index: int) -> bool:
                    async with semaphore:
                        result = await api.command(
                            "observe", endpoint=f"bench-{index:05d}", path="/3303/0/5700"
                        )
                        return bool(result["success"])

                started = time.perf_counter()
                observed = sum(await asyncio.gather(*(observe(i) for i in range(args.devices))))
                observe_s = time.perf_counter() - started
                api.latencies.clear()
                api.changes = 0
                cpu_started = cpu_seconds(proc.pid)
                sent = await load.notify(args.rate, args.duration)
                await asyncio.sleep(1.0)  # let the last notifications arrive
                notify_cpu = cpu_seconds(proc.pid) - cpu_started
                delivered, latencies = api.changes, list(api.latencies)
                await load.stop()
                api.reader.cancel()
        finally:
            proc.terminate()
            await proc.wait()
    return {
        "devices": args.devices,
        "registered (device side)": sent_side["registered"],
        "registrations/s": args.devices / registration_s,
        "CPU µs per registration": 1e6 * registration_cpu / args.devices,
        "observes/s": observed / observe_s,
        "notifications sent": sent["sent"],
        "notifications delivered to API": delivered,
        "delivered/s": delivered / args.duration,
        "CPU µs per notification": 1e6 * notify_cpu / max(delivered, 1),
        "latency p50 ms": 1000 * percentile(latencies, 0.50),
        "latency p99 ms": 1000 * percentile(latencies, 0.99),
        "RSS per device KiB": (rss_after - rss_before) / args.devices,
        "gateway RSS MiB": rss_after / 1024,
    }


# --- the same traffic against a bare aiocoap server --------------------------------------------


async def bench_bare(args: argparse.Namespace) -> dict[str, float]:
    import aiocoap
    import aiocoap.error
    import aiocoap.resource

    latencies: list[float] = []
    registered = asyncio.Event()
    count = 0
    observations: list[asyncio.Task[None]] = []

    async def observe(context: aiocoap.Context, remote: str) -> None:
        request = aiocoap.Message(code=aiocoap.GET, uri=f"coap://{remote}/3303/0/5700", observe=0)
        pending = context.request(request)
        try:
            await pending.response
            async for notification in pending.observation:
                value = json.loads(notification.payload)[0]["v"]
                latencies.append(time.time() - value)
        except aiocoap.error.Error:
            pass  # the context shut down at the end of the run

    class Rd(aiocoap.resource.Resource):  # type: ignore[misc]
        async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
            nonlocal count
            count += 1
            if count >= args.devices:
                registered.set()
            remote = request.remote.hostinfo
            observations.append(asyncio.get_running_loop().create_task(observe(context, remote)))
            return aiocoap.Message(code=aiocoap.CREATED, location_path=("rd", str(count)))

    site = aiocoap.resource.Site()
    site.add_resource(["rd"], Rd())
    coap_port = free_udp_port()
    context = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", coap_port))
    rss_before = rss_kib(os.getpid())
    started, cpu_started = time.perf_counter(), cpu_seconds(os.getpid())
    load = await LoadProcess.start(coap_port, args.devices, "bare-", args.concurrency)
    await load.answer()
    await asyncio.wait_for(registered.wait(), 600)
    registration_s = time.perf_counter() - started
    registration_cpu = cpu_seconds(os.getpid()) - cpu_started
    await asyncio.sleep(2.0)  # let the observations be established
    rss_after = rss_kib(os.getpid())
    latencies.clear()
    cpu_started = cpu_seconds(os.getpid())
    sent = await load.notify(args.rate, args.duration)
    await asyncio.sleep(1.0)
    notify_cpu = cpu_seconds(os.getpid()) - cpu_started
    delivered = len(latencies)
    await load.stop()
    for task in observations:
        task.cancel()
    await asyncio.gather(*observations, return_exceptions=True)
    await context.shutdown()
    return {
        "registrations/s": args.devices / registration_s,
        "CPU µs per registration": 1e6 * registration_cpu / args.devices,
        "notifications sent": sent["sent"],
        "delivered/s": delivered / args.duration,
        "CPU µs per notification": 1e6 * notify_cpu / max(delivered, 1),
        "latency p50 ms": 1000 * percentile(list(latencies), 0.50),
        "latency p99 ms": 1000 * percentile(list(latencies), 0.99),
        "RSS per device KiB": (rss_after - rss_before) / args.devices,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", default="bench", choices=["bench", "loadgen"])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000.0, help="notifications per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of notifying")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--prefix", default="bench-")
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--rich", action="store_true", help="devices with several objects")
    args = parser.parse_args()
    if args.role == "loadgen":
        asyncio.run(
            run_loadgen(
                "127.0.0.1", args.port, args.devices, args.prefix, args.concurrency, rich=args.rich
            )
        )
        return
    gateway = asyncio.run(bench_gateway(args))
    print(f"\n== gateway: {args.devices} devices, {args.rate:g} notifications/s offered")
    for key, value in gateway.items():
        print(f"  {key:32} {value:10.2f}" if isinstance(value, float) else f"  {key:32} {value:10}")
    if not args.skip_bare:
        bare = asyncio.run(bench_bare(args))
        print("\n== bare aiocoap server, same traffic")
        for key, value in bare.items():
            print(f"  {key:32} {value:10.2f}")
        print("\n== gateway / bare")
        for key in ("registrations/s", "delivered/s", "CPU µs per notification"):
            print(f"  {key:32} {gateway[key] / bare[key]:10.2f}")
        print(
            f"  {'latency p50 (x)':32} {gateway['latency p50 ms'] / bare['latency p50 ms']:10.2f}"
        )


if __name__ == "__main__":
    main()
