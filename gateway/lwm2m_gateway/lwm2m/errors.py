"""The one place where CoAP response codes become typed LwM2M errors, and back.

Every error carries what a user needs to act: the endpoint, the path, the format, the reason.
Its `error_code` is the stable string the WebSocket API reports (docs/protocol.md).
"""

from __future__ import annotations

from aiocoap.numbers.codes import Code


class Lwm2mError(Exception):
    """Base of every error the gateway reports; `error_code` is stable API text."""

    error_code = "lwm2m_error"
    coap_code: Code = Code.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, *, endpoint: str | None = None, path: str | None = None):
        super().__init__(message)
        self.endpoint = endpoint
        self.path = path

    def details(self) -> dict[str, str]:
        out = {"message": str(self)}
        if self.endpoint is not None:
            out["endpoint"] = self.endpoint
        if self.path is not None:
            out["path"] = self.path
        return out


class BadRequest(Lwm2mError):
    """Malformed input from a peer: a query, a link, a payload. Answered with 4.00."""

    error_code = "bad_request"
    coap_code = Code.BAD_REQUEST


class CodecError(BadRequest):
    """A payload that does not decode in its content format, or a value that cannot be encoded."""

    error_code = "codec_error"


class Forbidden(Lwm2mError):
    """Credentials missing or wrong for an endpoint that has them."""

    error_code = "forbidden"
    coap_code = Code.FORBIDDEN


class TooManyRequests(Lwm2mError):
    """A source registers faster than the gateway's rate limit allows."""

    error_code = "too_many_requests"
    coap_code = Code.TOO_MANY_REQUESTS


class ServerFull(Lwm2mError):
    """The gateway holds its maximum number of endpoints."""

    error_code = "server_full"
    coap_code = Code.SERVICE_UNAVAILABLE


class StorageUnavailable(Lwm2mError):
    """The gateway cannot store what a device asked for; the device should try again later."""

    error_code = "storage_unavailable"
    coap_code = Code.SERVICE_UNAVAILABLE


class UnknownEndpoint(Lwm2mError):
    """No registration (live or stored) for that endpoint name."""

    error_code = "unknown_endpoint"
    coap_code = Code.NOT_FOUND


class DeviceTimeout(Lwm2mError):
    """The device did not answer in time (or stayed asleep past the queue timeout)."""

    error_code = "timeout"
    coap_code = Code.GATEWAY_TIMEOUT


class QueueFull(Lwm2mError):
    """Too many requests already wait for this sleeping queue-mode device."""

    error_code = "queue_full"
    coap_code = Code.SERVICE_UNAVAILABLE


class DeviceError(Lwm2mError):
    """The device answered with a CoAP error code; `coap_code` is that code."""

    def __init__(
        self,
        code: Code,
        reason: str,
        *,
        endpoint: str | None = None,
        path: str | None = None,
    ):
        super().__init__(
            f"{code.dotted} {code.name_printable}: {reason}".rstrip(": "),
            endpoint=endpoint,
            path=path,
        )
        self.coap_code = code
        self.error_code = ERROR_CODES.get(code, "device_error")

    def details(self) -> dict[str, str]:
        out = super().details()
        out["coap_code"] = self.coap_code.dotted
        return out


# LwM2M 1.1 core §5.x: the response codes a client uses and their meaning to a user.
ERROR_CODES: dict[Code, str] = {
    Code.BAD_REQUEST: "bad_request",
    Code.UNAUTHORIZED: "unauthorized",
    Code.BAD_OPTION: "bad_option",
    Code.FORBIDDEN: "forbidden",
    Code.NOT_FOUND: "not_found",
    Code.METHOD_NOT_ALLOWED: "method_not_allowed",
    Code.NOT_ACCEPTABLE: "not_acceptable",
    Code.REQUEST_ENTITY_INCOMPLETE: "request_entity_incomplete",
    Code.PRECONDITION_FAILED: "precondition_failed",
    Code.REQUEST_ENTITY_TOO_LARGE: "request_entity_too_large",
    Code.UNSUPPORTED_CONTENT_FORMAT: "unsupported_content_format",
    Code.INTERNAL_SERVER_ERROR: "internal_server_error",
    Code.NOT_IMPLEMENTED: "not_implemented",
    Code.SERVICE_UNAVAILABLE: "service_unavailable",
}


def raise_for_code(code: Code, payload: bytes, *, endpoint: str, path: str) -> None:
    """Raise DeviceError for any non-success response (diagnostic payload as the reason)."""
    if code.is_successful():
        return
    reason = payload.decode("utf-8", "replace").strip() if payload else ""
    raise DeviceError(code, reason, endpoint=endpoint, path=path)
