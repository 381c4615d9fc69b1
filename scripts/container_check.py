"""Build the gateway's container image and prove it serves devices; prints what it saw.

    .venv/bin/python scripts/container_check.py [--base IMAGE] [--keep] [--addon]

Needs podman (Debian's, with the runc runtime) and a base image with Python 3.13 and venv: by
default one made here with `debootstrap --variant=minbase --include=python3,python3-venv,
ca-certificates trixie DIR` and `tar -C DIR -c . | podman import - trixie-python`. The
container runs with host networking on loopback ports of its own; a plain CoAP device and a
DTLS-PSK device (the simulator, in this process) register with it, the API reads them, and the
image's health check must pass. Exit 0 only when all of that held.

--addon also builds addon/ as the Supervisor would (its directory as context, BUILD_FROM and
BUILD_VERSION), with a stand-in base (BASE plus a Python venv; the official base images cannot be
fetched here) and this checkout's source archive served on loopback in place of the release's;
then runs it with an options.json in /data, as the Supervisor does, and asks its API with the
token the app made.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import http.server
import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).parents[1] / "gateway"))
from lwm2m_gateway.simulator import SimulatedDevice

ROOT = Path(__file__).parents[1]
PODMAN = ["podman", "--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]
PORTS = {"coap_port": 25683, "coaps_port": 25684, "api_port": 28765}
KEY = bytes(range(16))


def run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])}: {done.stderr.strip()[-800:]}")
    return done.stdout


async def command(ws: aiohttp.ClientWebSocketResponse, n: int, name: str, **args: Any) -> Any:
    await ws.send_json({"message_id": n, "command": name, "args": args})
    while True:
        message = await ws.receive_json(timeout=30)
        if message.get("message_id") == n:
            if not message.get("success"):
                raise RuntimeError(f"{name}: {message}")
            return message.get("result")


async def exercise() -> None:
    api = f"http://127.0.0.1:{PORTS['api_port']}/ws"
    async with aiohttp.ClientSession() as session, session.ws_connect(api) as ws:
        info = await ws.receive_json()
        print(f"API: gateway {info['gateway_id']} {info['gateway_version']}")
        await command(
            ws, 1, "set_credentials", endpoint="ctr-dtls", identity="ctr-id", key=KEY.hex()
        )
        plain = SimulatedDevice("ctr-plain", f"coap://127.0.0.1:{PORTS['coap_port']}")
        secure = SimulatedDevice(
            "ctr-dtls", f"coaps://127.0.0.1:{PORTS['coaps_port']}", psk=("ctr-id", KEY)
        )
        for device in (plain, secure):
            await device.start()
        try:
            for n, name in enumerate(("ctr-plain", "ctr-dtls"), start=2):
                for attempt in range(50):
                    try:
                        found = await command(ws, 100 * n + attempt, "get_endpoint", endpoint=name)
                        print(f"{name}: registered, security {found.get('security')}")
                        break
                    except RuntimeError:
                        await asyncio.sleep(0.2)
                read = await command(ws, 100 * n + 99, "read", endpoint=name, path="/3/0/0")
                print(f"{name}: /3/0/0 read through the container = {json.dumps(read)}")
        finally:
            for device in (plain, secure):
                await device.stop()


def check_addon(base: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "Containerfile").write_text(
            f"FROM {base}\nRUN python3 -m venv /opt/py\nENV PATH=/opt/py/bin:$PATH\n"
        )
        run(*PODMAN, "build", *LIMITS, "-t", "lwm2m-addon-base", str(work))
        archive = work / "source.tar.gz"
        run("sh", "-c", f"git -C {ROOT} archive --prefix=src/ HEAD | gzip > {archive}")
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(work))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        source = f"http://127.0.0.1:{server.server_address[1]}/source.tar.gz"
        try:
            ca = ["-v", "/etc/ssl/certs/ca-certificates.crt:/host-ca.crt:ro",
                  "--env", "PIP_CERT=/host-ca.crt"]  # fmt: skip
            run(*PODMAN, "build", *LIMITS, "--network", "host", *ca,
                "--build-arg", "BUILD_FROM=localhost/lwm2m-addon-base",
                "--build-arg", f"BUILD_VERSION={read_version()}",
                "--build-arg", f"SOURCE={source}", "-t", "lwm2m-addon", str(ROOT / "addon"))  # fmt: skip
        finally:
            server.shutdown()
        print("built the app (add-on) image")
        data = work / "data"
        data.mkdir()
        data.chmod(0o777)
        options = {"log_level": "info", "unknown_endpoints": "approve", "public_host": "",
                   "coap": True, "coaps": True}  # fmt: skip
        (data / "options.json").write_text(json.dumps(options))
        subprocess.run([*PODMAN, "rm", "-f", "lwm2m-addon-check"], capture_output=True, check=False)
        run(*PODMAN, "run", "-d", "--name", "lwm2m-addon-check", "--network", "host", *LIMITS,
            "-v", f"{data}:/data", "lwm2m-addon")  # fmt: skip
        try:
            token = ""
            for _ in range(50):
                with contextlib.suppress(FileNotFoundError):
                    token = (data / "api_token").read_text().strip()
                if token and subprocess.run(
                    [sys.executable, "-m", "lwm2m_gateway.health", "--port", "8765",
                     "--config", str(data / "gateway.toml")],
                    capture_output=True, check=False,
                ).returncode == 0:  # fmt: skip
                    break
                subprocess.run(["sleep", "0.2"], check=False)
            else:
                print(run(*PODMAN, "logs", "lwm2m-addon-check"))
                raise RuntimeError("the app's gateway never answered with its token")
            print(f"app: options -> gateway.toml, a {len(token)}-character token made in /data,")
            print("     the API answered with it on 0.0.0.0:8765 (the Supervisor's network)")
        finally:
            subprocess.run(
                [*PODMAN, "rm", "-f", "lwm2m-addon-check"], capture_output=True, check=False
            )


def read_version() -> str:
    sys.path.insert(0, str(ROOT / "gateway"))
    import lwm2m_gateway

    return lwm2m_gateway.__version__


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default="localhost/trixie-python")
    parser.add_argument("--keep", action="store_true", help="leave the container running")
    parser.add_argument("--addon", action="store_true", help="also build and run addon/")
    args = parser.parse_args()
    ca = [
        "-v",
        "/etc/ssl/certs/ca-certificates.crt:/host-ca.crt:ro",
        "--env",
        "PIP_CERT=/host-ca.crt",
    ]
    image = ["--build-arg", f"BASE={args.base}", "-t", "lwm2m-gateway", "-f", "Containerfile"]
    run(
        *PODMAN, "build", "--format", "docker", *LIMITS, "--network", "host", *ca, *image, str(ROOT)
    )
    print("built localhost/lwm2m-gateway")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "gateway.toml"
        config.write_text(
            'coap_host = "127.0.0.1"\ndata_dir = "/data"\napi_host = "127.0.0.1"\n'
            + "".join(f"{key} = {port}\n" for key, port in PORTS.items())
        )
        config.chmod(0o644)
        subprocess.run([*PODMAN, "rm", "-f", "lwm2m-check"], capture_output=True, check=False)
        run(*PODMAN, "run", "-d", "--name", "lwm2m-check", "--network", "host", *LIMITS,
            "-v", f"{config}:/etc/lwm2m-gateway/gateway.toml:ro", "lwm2m-gateway")  # fmt: skip
        try:
            for _ in range(50):
                if subprocess.run([*PODMAN, "healthcheck", "run", "lwm2m-check"],
                                  capture_output=True, check=False).returncode == 0:  # fmt: skip
                    break
                subprocess.run(["sleep", "0.2"], check=False)
            else:
                print(run(*PODMAN, "logs", "lwm2m-check"))
                raise RuntimeError("the health check never passed")
            print("health check: healthy")
            user = run(*PODMAN, "exec", "lwm2m-check", "id", "-un").strip()
            print(f"runs as: {user}")
            asyncio.run(exercise())
        finally:
            if not args.keep:
                subprocess.run(
                    [*PODMAN, "rm", "-f", "lwm2m-check"], capture_output=True, check=False
                )
    if args.addon:
        check_addon(args.base)
    print("container check: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
