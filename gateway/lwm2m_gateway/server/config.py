"""The composed server's settings (the command line and TOML file map onto these)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path as FilePath

REGISTER_SETTLE = 0.05  # s to let the 2.01 leave before the first request to a new registration


@dataclass(slots=True)
class FirmwareSettings:
    data_dir: FilePath  # images live under <data_dir>/firmware
    public_host: str  # the host devices fetch pull images from
    block_size: int = 1024  # Block1 size of a push (small suits slow, lossy links)
    push_timeout: float = 600.0  # the whole block-wise push, not one block
    download_timeout: float = 3600.0  # s from the start until the device reports Downloaded
    update_timeout: float = 900.0  # s from Update until the device reports how it went
    import_dir: FilePath = FilePath("firmware-import")  # the only files firmware_add_image reads


@dataclass(slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    public_host: str | None = None  # the host devices must use (a DNS name, a forwarded port)
    fallback_host: str | None = None  # where no request tells: the host's own name
    coap_port: int | None = 5683  # plain CoAP; None: no listener, 0: any free port
    coaps_port: int | None = None  # CoAP over DTLS-PSK; None: no listener, 0: any free port
    request_timeout: float = 30.0  # one request to an awake device
    queue_timeout: float = 300.0  # how long a request waits for a sleeping device to wake
    queue_limit: int = 32  # requests waiting per sleeping device
    awake_time: float = 93.0  # CoAP MAX_TRANSMIT_WAIT: how long a queue-mode device listens
    expiry_grace: float = 2.0  # tolerate an Update arriving just after the lifetime
    initial_read: bool = True
    inventory_concurrency: int = 32  # inventories (Discover + Read of new devices) at once
    inventory_rate: float = 100.0  # inventories started a second at most; 0: no limit
    inventory_valid_for: float = 3600.0  # s an inventory is reused by a device registering
    # again with the same links; 0: never
    watchdog_interval: float = 60.0  # s between checks for dead or silent observations
    observation_silence: float = 3600.0  # s without a notification (no pmax set) before an
    # observation is taken for dead and made again; 0: only observations with a pmax
    unknown_endpoints: str = "accept"  # accept, approve or reject (admission.py)
    max_endpoints: int = 20000
    max_pending: int = 32  # unknown devices waiting for approval; the oldest is dropped
    register_rate: float = 120.0  # Registers a minute from one source host; 0: no limit
    firmware: FirmwareSettings | None = None  # None: no firmware update role
