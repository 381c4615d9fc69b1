"""The LwM2M server: roles (registrations, presence, requests, device management, observations,
send, firmware) composed in server.py."""

from .config import FirmwareSettings, ServerConfig
from .events import EventListener, ServerEvent
from .server import Lwm2mServer

__all__ = ["EventListener", "FirmwareSettings", "Lwm2mServer", "ServerConfig", "ServerEvent"]
