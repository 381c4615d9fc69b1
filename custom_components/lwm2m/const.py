"""Constants of the LwM2M integration."""

from __future__ import annotations

from typing import Final

from homeassistant.const import Platform

DOMAIN: Final = "lwm2m"
DEFAULT_PORT: Final = 8765
CONF_TOKEN: Final = "token"

# The gateway API schema versions this integration speaks (docs/protocol.md).
SCHEMA_VERSION: Final = 5  # firmware 2, security 3, batch history 4, coalesced frames and
# registered-before-inventory 5; schema 1 works without
COALESCE_SCHEMA_VERSION: Final = 5
MIN_SCHEMA_VERSION: Final = 1

PLATFORMS: Final = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.DEVICE_TRACKER,
    Platform.EVENT,
    Platform.LIGHT,
    Platform.NUMBER,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.TEXT,
    Platform.UPDATE,
]
EVENT_LWM2M: Final = "lwm2m_event"
RECONNECT_MIN: Final = 1.0
RECONNECT_MAX: Final = 10.0  # s: entities back within about this long of the gateway
