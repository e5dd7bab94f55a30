"""The gateway's errors and how each becomes an HTTP response, in one place.

    GatewayError
    ├── ConfigError                an environment variable the gateway cannot use (start-up stops)
    ├── StorageError               the database failed or could not be reached
    │   └── UniqueViolation        a write broke a uniqueness rule (the admin API answers 400)
    ├── CountersUnavailable        the rate/spend counters (Redis) did not answer in time
    ├── AdminError                 admin API: {"type", "title", "status", "detail", "instance"}
    │   ├── BadRequest      400    validation, malformed JSON, unknown references, duplicates
    │   ├── Unauthorized    401    missing or wrong X-API-KEY
    │   ├── Forbidden       403    without ADMIN_PASS: a foreign Host, a cross-origin write
    │   ├── NotFound        404    unknown id
    │   ├── PayloadTooLarge 413    a body over ADMIN_MAX_BODY_BYTES
    │   ├── UnsupportedMediaType 415  without ADMIN_PASS: a write a browser form could send
    │   └── ServiceUnavailable 503 the database cannot be reached; nothing was changed
    └── ProxyError                 proxy: {"error": {"code", "message": "[BricksLLM] ...", "type"}}
        (status and type per instance: 400 invalid_request, 401 authentication, 403 permission,
         404 route not supported, 429 rate/cost limit, 503 dependency down)
        └── UpstreamError   502    the upstream gave no usable answer
            ├── UpstreamTimeout     504  no answer within the deadline        (a route may retry)
            ├── UpstreamUnreachable 502  connect failed, reset, closed early  (a route may retry)
            └── UpstreamRefused     502  the address is forbidden (SSRF guard) (never retried)

A proxy error becomes HTTP in one place, `app/proxy/context.error_response`: `ProxyError.body()`
(OpenAI's shape), or the called provider's shape (`adapter.error_body`: Anthropic's on its paths).
`retryable` says whether a route may try the call again (on this or another step).

No message carries a key or a secret: callers pass ids and field names, never credentials.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    status = 500


class ConfigError(GatewayError, ValueError):
    """An environment variable holds a value the gateway cannot use."""


class StorageError(GatewayError):
    """The database failed or could not be reached."""


class UniqueViolation(StorageError):
    """A write would break a uniqueness rule (duplicate id, name...)."""


class CountersUnavailable(GatewayError):
    """The counter backend is unreachable or did not answer in time."""


class AdminError(GatewayError):
    status = 500
    slug = "internal"
    title = "internal server error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def body(self, instance: str) -> dict[str, Any]:
        return admin_error_body(self.status, self.slug, self.title, self.detail, instance)


class BadRequest(AdminError):
    status = 400
    slug = "validation"
    title = "bad request"


class Unauthorized(AdminError):
    status = 401
    slug = "unauthorized"
    title = "unauthorized"


class Forbidden(AdminError):
    status = 403
    slug = "forbidden"
    title = "forbidden"


class PayloadTooLarge(AdminError):
    status = 413
    slug = "request-too-large"
    title = "request entity too large"


class UnsupportedMediaType(AdminError):
    status = 415
    slug = "unsupported-media-type"
    title = "unsupported media type"


class NotFound(AdminError):
    status = 404
    slug = "not-found"
    title = "not found"


class ServiceUnavailable(AdminError):
    status = 503
    slug = "storage"
    title = "service unavailable"


def admin_error_body(
    status: int, slug: str, title: str, detail: str, instance: str
) -> dict[str, Any]:
    return {
        "type": f"/errors/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }


class ProxyError(GatewayError):
    """An error the gateway itself answers on the proxy port, in OpenAI's error shape."""

    retryable = False

    def __init__(
        self, status: int, message: str, error_type: str = "", retry_after: int | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or _DEFAULT_TYPES.get(status, "api_error")
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": str(self.status),
                "message": f"[BricksLLM] {self.message}",
                "type": self.error_type,
            }
        }


_DEFAULT_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "upstream_timeout",
}


class UpstreamError(ProxyError):
    """The upstream gave no usable answer; the message names what happened, never a secret."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(status, message)


class UpstreamTimeout(UpstreamError):
    retryable = True

    def __init__(self, message: str = "upstream did not answer in time") -> None:
        super().__init__(message, 504)


class UpstreamUnreachable(UpstreamError):
    retryable = True


class UpstreamRefused(UpstreamError):
    """The upstream's address is refused by the SSRF guard (metadata, link-local): never retried."""
