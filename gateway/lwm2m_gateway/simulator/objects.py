"""The objects a simulated device carries by default, with plausible values."""

from __future__ import annotations

import time

from ..lwm2m.paths import Path
from ..lwm2m.values import Value

SENSOR_OBJECTS = (3303, 3304)


def standard_objects(endpoint: str, firmware_version: str = "1.0.0") -> dict[Path, Value]:
    """Device 3, Connectivity 4, Firmware Update 5, temperature, humidity, power, light, button."""
    return {
        # Device (3)
        Path(3, 0, 0): "ha-lwm2m",
        Path(3, 0, 1): "Simulated Sensor",
        Path(3, 0, 2): f"SN-{endpoint}",
        Path(3, 0, 3): firmware_version,
        Path(3, 0, 6, 0): 1,  # internal battery
        Path(3, 0, 6, 1): 5,  # USB
        Path(3, 0, 9): 87,
        Path(3, 0, 11, 0): 0,
        Path(3, 0, 13): int(time.time()),
        Path(3, 0, 16): "U",
        Path(3, 0, 17): "sensor",
        Path(3, 0, 18): "rev-b",
        Path(3, 0, 19): "sim-1",
        Path(3, 0, 20): 1,  # normal
        # Connectivity Monitoring (4)
        Path(4, 0, 0): 0,
        Path(4, 0, 1, 0): 0,
        Path(4, 0, 2): -72,
        Path(4, 0, 3): 80,
        Path(4, 0, 4, 0): "127.0.0.1",
        # Firmware Update (5): the state machine is firmware.py's
        Path(5, 0, 1): "",
        Path(5, 0, 3): 0,
        Path(5, 0, 5): 0,
        Path(5, 0, 6): "sim-firmware",
        Path(5, 0, 7): firmware_version,
        Path(5, 0, 8, 0): 0,  # CoAP
        Path(5, 0, 9): 2,  # pull and push
        # Temperature (3303)
        Path(3303, 0, 5700): 21.5,
        Path(3303, 0, 5701): "Cel",
        Path(3303, 0, 5601): 21.5,
        Path(3303, 0, 5602): 21.5,
        # Humidity (3304)
        Path(3304, 0, 5700): 45.0,
        Path(3304, 0, 5701): "%RH",
        # Power Control (3312)
        Path(3312, 0, 5850): False,
        # Light Control (3311)
        Path(3311, 0, 5850): False,
        Path(3311, 0, 5851): 50,
        Path(3311, 0, 5706): "#FFD080",
        # Push button (3347)
        Path(3347, 0, 5500): False,
        Path(3347, 0, 5501): 0,
    }


# Executable resources of the standard set (Discover lists them; Read does not).
STANDARD_EXECUTABLES = (
    Path(3, 0, 4),
    Path(3, 0, 5),
    Path(5, 0, 2),
    Path(5, 0, 10),
    Path(3303, 0, 5605),
)
OBJECT_VERSIONS = {3303: "1.1", 3304: "1.1", 3311: "1.1", 3312: "1.1", 3347: "1.1"}
SERVER_OBJECT = {Path(1, 0, 0): 1, Path(1, 0, 1): 300, Path(1, 0, 6): False, Path(1, 0, 7): "U"}
