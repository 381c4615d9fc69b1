"""Build the gateway's container image and prove it serves devices; prints what it saw.

    .venv/bin/python scripts/container_check.py [--base IMAGE] [--keep]

Needs podman (Debian's, with the runc runtime) and a base image with Python 3.13 and venv: by
default one made here with `debootstrap --variant=minbase --include=python3,python3-venv,
ca-certificates trixie DIR` and `tar -C DIR -c . | podman import - trixie-python`. The
container runs with host networking on loopback ports of its own; a plain CoAP device and a
DTLS-PSK device (the simulator, in this process) register with it, the API reads them, and the
image's health check must pass. Exit 0 only when all of that held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default="localhost/trixie-python")
    parser.add_argument("--keep", action="store_true", help="leave the container running")
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
    print("container check: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
