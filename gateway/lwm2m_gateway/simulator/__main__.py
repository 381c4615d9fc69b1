"""`python -m lwm2m_gateway.simulator`: run simulated devices against a server until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from ..lwm2m.codecs import ContentFormat
from .fleet import DeviceFleet

FORMATS = {
    "tlv": ContentFormat.TLV,
    "senml-json": ContentFormat.SENML_JSON,
    "senml-cbor": ContentFormat.SENML_CBOR,
    "lwm2m-json": ContentFormat.LWM2M_JSON,
    "lwm2m-cbor": ContentFormat.LWM2M_CBOR,
}


async def run(args: argparse.Namespace) -> None:
    fleet = DeviceFleet(
        args.server,
        args.count,
        prefix=args.prefix,
        lifetime=args.lifetime,
        binding="UQ" if args.queue else "U",
        content_format=FORMATS[args.format],
    )
    await fleet.start()
    logging.info("%d devices registered with %s", args.count, args.server)
    if args.animate:
        fleet.animate(args.animate)
    try:
        await asyncio.Event().wait()
    finally:
        await fleet.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", default="coap://127.0.0.1:5683")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--prefix", default="sim-")
    parser.add_argument("--format", choices=sorted(FORMATS), default="senml-json")
    parser.add_argument("--queue", action="store_true", help="register in queue mode (b=UQ)")
    parser.add_argument("--lifetime", type=int, default=300)
    parser.add_argument("--animate", type=float, default=5.0, help="seconds between changes")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
