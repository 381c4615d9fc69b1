"""ha-lwm2m gateway: a native OMA LwM2M server with a local WebSocket API."""

__version__ = "0.1.0"
