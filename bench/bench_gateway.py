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
from typing import Any, Protocol

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
import loadgen

PORTS = re.compile(r"coap=\S*?:(\d+)\b.*?api=ws://([\d.]+):(\d+)/ws coaps=\S*?:?(\d*) ")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _stat_cpu_seconds(stat: Path) -> float:
    """User and system CPU time from a /proc stat file."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used (its threads included)."""
    return _stat_cpu_seconds(Path(f"/proc/{pid}/stat"))


def loop_cpu_seconds(pid: int) -> float:
    """The same for the process's main thread alone: the gateway's event loop (the rest is
    the value writer's thread and any other)."""
    return _stat_cpu_seconds(Path(f"/proc/{pid}/task/{pid}/stat"))


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def is_stamp(value: Any) -> bool:
    """A notification's value is its send time; the inventory's Reads are not counted."""
    return isinstance(value, float) and value > 1e9


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


async def start_gateway(
    data_dir: str, settings: str = ""
) -> tuple[asyncio.subprocess.Process, int, str]:
    proc, coap_port, _, api_url = await start_gateway_process(data_dir, settings=settings)
    return proc, coap_port, api_url


LOGS: dict[int, list[str]] = {}  # by pid: what a captured gateway wrote to stderr


async def start_gateway_process(
    data_dir: str, *, capture: bool = False, settings: str = ""
) -> tuple[asyncio.subprocess.Process, int, int, str]:
    """The gateway process; its CoAP, coaps and API ports. With capture, its log is kept in
    LOGS[pid] (else discarded). settings: more lines of its TOML config."""
    # thousands of devices register from one host here: no per-source rate limit
    config = Path(data_dir) / "bench.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("register_rate = 0\nmax_endpoints = 100000\n" + settings)
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
        self.inventoried = 0
        self.all_inventoried = asyncio.Event()
        self.all_inventoried_at = 0.0
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
            elif event == "endpoint_inventoried":
                self.inventoried += 1
                if self.inventoried >= self.expected and not self.all_inventoried.is_set():
                    self.all_inventoried_at = time.perf_counter()
                    self.all_inventoried.set()
            elif event == "resource_changed" and is_stamp(data.get("value")):
                self.changes += 1
                self.latencies.append(now - data["value"])

    async def command(self, command: str, **args: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        await self.ws.send_json({"message_id": self.next_id, "command": command, "args": args})
        return await asyncio.wait_for(future, 120)


class Counter(Protocol):
    """Notifications seen (and their latency), whoever receives them."""

    latencies: list[float]
    changes: int


async def notify_phase(
    load: LoadProcess, counter: Counter, pid: int, rate: float, duration: float
) -> dict[str, float]:
    """Offer `rate` notifications/s for `duration` s; what arrived, how fast, at what CPU."""
    counter.latencies.clear()
    counter.changes = 0
    cpu_started, loop_started = cpu_seconds(pid), loop_cpu_seconds(pid)
    sent = (await load.notify(rate, duration))["sent"]
    await asyncio.sleep(1.0)  # let the last notifications arrive
    cpu = cpu_seconds(pid) - cpu_started
    loop_cpu = loop_cpu_seconds(pid) - loop_started
    delivered, latencies = counter.changes, list(counter.latencies)
    return {
        "offered/s": rate,
        "sent": sent,
        "sent/s": sent / duration,  # what the load generator managed (it shares the cores)
        "delivered": delivered,
        "delivered %": 100.0 * delivered / max(sent, 1),
        "CPU µs per notification": 1e6 * cpu / max(delivered, 1),
        "  of which the event loop's": 1e6 * loop_cpu / max(delivered, 1),
        "latency p50 ms": 1000 * percentile(latencies, 0.50),
        "latency p99 ms": 1000 * percentile(latencies, 0.99),
        # the worst: a pause of the gateway's loop (a full garbage collection) shows here
        "latency max ms": 1000 * max(latencies, default=float("nan")),
    }


async def idle_cpu(pid: int, seconds: float) -> float:
    """CPU ms per second the process spends while no datagram comes."""
    cpu_started = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    return 1000 * (cpu_seconds(pid) - cpu_started) / seconds


def saturation(sweep: list[dict[str, float]]) -> float:
    """The highest rate really sent (not only offered) with at least 99 % delivered and p99 at
    most 20 ms."""
    good = [
        r["sent/s"]
        for r in sweep
        if r["delivered %"] >= 99.0 and r["latency p99 ms"] <= 20.0 and r["sent"] > 0
    ]
    return max(good, default=0.0)


async def sweep_phases(
    load: LoadProcess, counter: Counter, pid: int, args: argparse.Namespace
) -> list[dict[str, float]]:
    results = []
    for rate in args.sweep:
        result = await notify_phase(load, counter, pid, rate, args.sweep_duration)
        results.append(result)
        if result["delivered %"] < 90.0:
            break  # well past saturation: higher rates only take longer
    return results


async def bench_gateway(args: argparse.Namespace) -> dict[str, Any]:
    settings = f"inventory_rate = {args.inventory_rate}\n"
    with tempfile.TemporaryDirectory() as data_dir:
        proc, coap_port, api_url = await start_gateway(data_dir, settings)
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

                semaphore = asyncio.Semaphore(args.concurrency)

                async def observe(index: int) -> bool:
                    async with semaphore:
                        result = await api.command(
                            "observe", endpoint=f"bench-{index:05d}", path="/3303/0/5700"
                        )
                        return bool(result["success"])

                observe_started = time.perf_counter()
                observed = sum(await asyncio.gather(*(observe(i) for i in range(args.devices))))
                observe_s = time.perf_counter() - observe_started
                inventoried_before = api.inventoried
                during = await notify_phase(load, api, proc.pid, args.rate, args.duration)
                inventoried_after = api.inventoried
                notify_cpu = during["CPU µs per notification"] * during["delivered"] / 1e6
                await asyncio.wait_for(api.all_inventoried.wait(), 3600)
                inventory_s = api.all_inventoried_at - started
                device_cpu = cpu_seconds(proc.pid) - cpu_started - notify_cpu
                rss_after = rss_kib(proc.pid)
                steady = await notify_phase(load, api, proc.pid, args.rate, args.duration)
                idle = await idle_cpu(proc.pid, 5.0)
                sweep = await sweep_phases(load, api, proc.pid, args) if args.sweep else []
                await load.stop()
                api.reader.cancel()
        finally:
            proc.terminate()
            await proc.wait()
    return {
        "devices": args.devices,
        "registered (device side)": sent_side["registered"],
        # the devices' clock: from their first Register to the last 2.01 (the process start
        # and 10,000 sockets opening are not the gateway's time)
        "registrations/s": sent_side["registered"] / sent_side["seconds"],
        "registered events at the API within s": registration_s,
        "CPU µs per Register": 1e6 * registration_cpu / args.devices,
        "observes/s": observed / observe_s,
        "inventory pace (configured)/s": args.inventory_rate,
        "all inventoried, s after the first Register": inventory_s,
        "CPU µs per device (4 exchanges)": 1e6 * device_cpu / args.devices,
        "notify during inventory: inventoried": f"{inventoried_before}..{inventoried_after}",
        "  delivered %": during["delivered %"],
        "  latency p99 ms": during["latency p99 ms"],
        "notifications sent": steady["sent"],
        "notifications delivered to API": steady["delivered"],
        "delivered/s": steady["delivered"] / args.duration,
        "CPU µs per notification": steady["CPU µs per notification"],
        "  of which the event loop's": steady["  of which the event loop's"],
        "latency p50 ms": steady["latency p50 ms"],
        "latency p99 ms": steady["latency p99 ms"],
        "latency max ms": steady["latency max ms"],
        # what the process spends with nothing to do: at 1,000/s, each ms/s is 1 µs/notification
        "idle CPU ms/s (all observed, no traffic)": idle,
        "RSS per device KiB": (rss_after - rss_before) / args.devices,
        "gateway RSS MiB": rss_after / 1024,
        "sweep": sweep,
        "saturation /s": saturation(sweep) if sweep else float("nan"),
    }


# --- the same exchanges against a bare aiocoap server, in its own process ----------------------


async def bench_bare(args: argparse.Namespace) -> dict[str, Any]:
    """A bare aiocoap server that does what the gateway does with each device (Register, then
    Discover, Read and Observe, sent to the device's own remote) and nothing else: no store,
    no model, no API. Runs in the process `--role bare`, measuring its own CPU."""
    import aiocoap
    import aiocoap.error
    import aiocoap.resource

    class BareCounter:
        def __init__(self) -> None:
            self.latencies: list[float] = []
            self.changes = 0

    counter = BareCounter()
    registered = asyncio.Event()
    count = 0
    done = 0
    inventoried = asyncio.Event()
    followers: list[asyncio.Task[None]] = []

    async def manage(context: aiocoap.Context, remote: Any) -> None:
        nonlocal done
        try:
            for accept, path, observe in ((40, ("3303",), None), (110, ("3303",), None),
                                          (110, ("3303", "0", "5700"), 0)):  # fmt: skip
                request = aiocoap.Message(code=aiocoap.GET, uri_path=path, accept=accept)
                if observe is not None:
                    request.opt.observe = observe
                request.remote = remote
                pending = context.request(request)
                await pending.response
            done += 1
            if done >= args.devices:
                inventoried.set()
            async for notification in pending.observation:
                value = json.loads(notification.payload)[0]["v"]
                if is_stamp(value):
                    counter.latencies.append(time.time() - value)
                    counter.changes += 1
        except aiocoap.error.Error:
            pass  # the context shut down at the end of the run

    class Rd(aiocoap.resource.Resource):  # type: ignore[misc]
        async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
            nonlocal count
            count += 1
            if count >= args.devices:
                registered.set()
            task = asyncio.get_running_loop().create_task(manage(context, request.remote))
            followers.append(task)
            return aiocoap.Message(code=aiocoap.CREATED, location_path=("rd", str(count)))

    site = aiocoap.resource.Site()
    site.add_resource(["rd"], Rd())
    coap_port = free_udp_port()
    context = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", coap_port))
    pid = os.getpid()
    rss_before = rss_kib(pid)
    cpu_started = cpu_seconds(pid)
    load = await LoadProcess.start(coap_port, args.devices, "bare-", args.concurrency)
    sent_side = await load.answer()
    await asyncio.wait_for(registered.wait(), 600)
    await asyncio.wait_for(inventoried.wait(), 600)
    device_cpu = cpu_seconds(pid) - cpu_started
    rss_after = rss_kib(pid)
    steady = await notify_phase(load, counter, pid, args.rate, args.duration)
    sweep = await sweep_phases(load, counter, pid, args) if args.sweep else []
    await load.stop()
    for task in followers:
        task.cancel()
    await asyncio.gather(*followers, return_exceptions=True)
    await context.shutdown()
    return {
        "registrations/s": sent_side["registered"] / sent_side["seconds"],
        "CPU µs per device (4 exchanges)": 1e6 * device_cpu / args.devices,
        "notifications sent": steady["sent"],
        "delivered/s": steady["delivered"] / args.duration,
        "CPU µs per notification": steady["CPU µs per notification"],
        "  of which the event loop's": steady["  of which the event loop's"],
        "latency p50 ms": steady["latency p50 ms"],
        "latency p99 ms": steady["latency p99 ms"],
        "latency max ms": steady["latency max ms"],
        "RSS per device KiB": (rss_after - rss_before) / args.devices,
        "sweep": sweep,
        "saturation /s": saturation(sweep) if sweep else float("nan"),
    }


async def run_role_process(role: str, args: argparse.Namespace) -> dict[str, Any]:
    """A baseline ("bare", "floor") in a process of its own; the figures it printed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--role", role, *args.passed, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await proc.communicate()
    result: dict[str, Any] = json.loads(output.decode().strip().splitlines()[-1])
    return result


# --- the machine's floor: waking up for datagrams, with nothing done with them -------------


async def bench_floor(args: argparse.Namespace) -> dict[str, Any]:
    """A bare asyncio reader of a UDP socket (no CoAP; what it reads is dropped) fed at the
    notification rate, in the load generator's bursts: what waking up for datagrams costs on
    this machine, a floor under any server's CPU per notification at that rate."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    received = 0

    def read() -> None:
        nonlocal received
        while True:
            try:
                sock.recvmsg(4096, 1024)
            except BlockingIOError:
                return
            received += 1

    loop = asyncio.get_running_loop()
    loop.add_reader(sock.fileno(), read)
    cpu_started = time.process_time()
    sender = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--role", "floor-sender", "--port", str(sock.getsockname()[1]),
        "--rate", str(args.rate), "--duration", str(args.duration),
    )  # fmt: skip
    await sender.wait()
    await asyncio.sleep(0.2)
    cpu = time.process_time() - cpu_started
    loop.remove_reader(sock.fileno())
    sock.close()
    return {"datagrams read": received, "CPU µs per datagram": 1e6 * cpu / max(received, 1)}


def send_floor(port: int, rate: float, duration: float) -> None:
    """Datagrams at rate, in bursts every 10 ms as bench/loadgen.py notifies."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        tick, carry, datagram = 0.01, 0.0, b"\x50\x45" + bytes(58)
        next_tick = time.monotonic()
        deadline = next_tick + duration
        while time.monotonic() < deadline:
            carry += rate * tick
            while carry >= 1:
                sock.sendto(datagram, ("127.0.0.1", port))
                carry -= 1
            next_tick += tick
            time.sleep(max(0.0, next_tick - time.monotonic()))


def show(title: str, figures: dict[str, Any]) -> None:
    print(f"\n== {title}")
    for key, value in figures.items():
        if key == "sweep":
            continue
        if isinstance(value, float):
            print(f"  {key:38} {value:10.2f}")
        else:
            print(f"  {key:38} {value:>10}")
    if figures.get("sweep"):
        print("  saturation sweep (offered/s: sent/s, delivered %, p99 ms, CPU µs/notification)")
        for r in figures["sweep"]:
            print(f"    {r['offered/s']:8.0f}: {r['sent/s']:8.0f} {r['delivered %']:7.2f} %"
                  f"  {r['latency p99 ms']:8.2f}  {r['CPU µs per notification']:7.1f}")  # fmt: skip


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs, load average {one:.2f} (1 min) {five:.2f} (5 min) before the run"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--role", default="bench", choices=["bench", "loadgen", "bare", "floor", "floor-sender"]
    )
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000.0, help="notifications per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of notifying")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument(
        "--inventory-rate",
        type=float,
        default=100.0,
        help="the gateway's inventory_rate (its default: 100 inventories started a second)",
    )
    parser.add_argument("--sweep", type=lambda text: [float(r) for r in text.split(",") if r],
                        default=[], help="offered rates for the saturation sweep, e.g. "
                        "2000,4000,8000,16000")  # fmt: skip
    parser.add_argument("--sweep-duration", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--prefix", default="bench-")
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--rich", action="store_true", help="devices with several objects")
    args = parser.parse_args()
    args.passed = [a for a in sys.argv[1:] if a not in ("--skip-bare",)]
    if args.role == "loadgen":
        asyncio.run(
            run_loadgen(
                "127.0.0.1", args.port, args.devices, args.prefix, args.concurrency, rich=args.rich
            )
        )
        return
    if args.role == "bare":
        print(json.dumps(asyncio.run(bench_bare(args))))
        return
    if args.role == "floor":
        print(json.dumps(asyncio.run(bench_floor(args))))
        return
    if args.role == "floor-sender":
        send_floor(args.port, args.rate, args.duration)
        return
    print(load_note())
    gateway = asyncio.run(bench_gateway(args))
    show(f"gateway: {args.devices} devices, {args.rate:g} notifications/s offered", gateway)
    if not args.skip_bare:
        bare = asyncio.run(run_role_process("bare", args))
        show("bare aiocoap server in its own process, same exchanges", bare)
        print("\n== gateway / bare")
        for key in ("registrations/s", "CPU µs per device (4 exchanges)", "delivered/s",
                    "CPU µs per notification", "saturation /s"):  # fmt: skip
            print(f"  {key:38} {gateway[key] / bare[key]:10.2f}")
        print(f"  {'latency p50 (x)':38} "
              f"{gateway['latency p50 ms'] / bare['latency p50 ms']:10.2f}")  # fmt: skip
        show("floor: a bare asyncio UDP reader, same rate and bursts, no CoAP",
             asyncio.run(run_role_process("floor", args)))  # fmt: skip


if __name__ == "__main__":
    main()
