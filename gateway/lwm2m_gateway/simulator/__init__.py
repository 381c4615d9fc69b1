"""Simulated LwM2M devices (aiocoap clients) for the demo, the tests and the benchmarks."""

from .device import SimulatedDevice
from .fleet import DeviceFleet
from .objects import standard_objects

__all__ = ["DeviceFleet", "SimulatedDevice", "standard_objects"]
