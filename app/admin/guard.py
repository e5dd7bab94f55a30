"""Checks every admin request passes before its view runs: hostile paths and sizes, and, when no
ADMIN_PASS protects the API, the browser attacks a loopback-only server is still open to.

- A NUL in the path or the query string is a 400 (PostgreSQL cannot even compare with it).
- A body larger than ADMIN_MAX_BODY_BYTES is a 413, before it is read.
- Without ADMIN_PASS (the server listens on loopback only, and anyone who can reach it is
  trusted):
  - the `Host` must be a loopback name (`localhost`, `127.x.x.x`, `::1`), else 403: a page on
    another site whose DNS name was rebound to 127.0.0.1 cannot talk to the API;
  - a write (POST, PUT, PATCH, DELETE) whose `Origin` is not a loopback origin, or which a
    browser marks `Sec-Fetch-Site: cross-site`, is a 403 (CSRF);
  - a write with `Content-Type: text/plain` or `multipart/form-data` is a 415: those are what an
    HTML form can send cross-origin without a preflight. `application/x-www-form-urlencoded`
    (curl's `-d` default) is still read as JSON: curl users keep working, and a browser form
    cannot send it cross-origin because of the Origin check.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import flask

from app.errors import BadRequest, Forbidden, PayloadTooLarge, UnsupportedMediaType

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_TYPES = ("text/plain", "multipart/form-data")


def check_request(admin_pass: str, max_body_bytes: int) -> None:
    """Raise the admin error the current request deserves, if any."""
    request = flask.request
    if "\x00" in request.path or "%00" in request.query_string.decode("latin-1"):
        raise BadRequest("the path and the query string must not contain NUL characters")
    if request.content_length is not None and request.content_length > max_body_bytes:
        raise PayloadTooLarge(
            f"the request body is {request.content_length} bytes; the admin API takes at most "
            f"{max_body_bytes} (ADMIN_MAX_BODY_BYTES)"
        )
    if not admin_pass:
        _check_browser_safety(request)


def _check_browser_safety(request: flask.Request) -> None:
    host = request.headers.get("Host", "")
    if not is_loopback_host(host):
        raise Forbidden(
            "without ADMIN_PASS the admin API answers only requests addressed to a loopback "
            "name (localhost, 127.0.0.1, [::1]); set ADMIN_PASS to serve other names"
        )
    if request.method not in _WRITES:
        return
    origin = request.headers.get("Origin")
    if origin is not None and not is_loopback_origin(origin):
        raise Forbidden("cross-origin writes are refused (Origin is not a loopback origin)")
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        raise Forbidden("cross-origin writes are refused (Sec-Fetch-Site: cross-site)")
    if request.mimetype in _FORM_TYPES:
        raise UnsupportedMediaType(
            f"admin bodies are JSON: send Content-Type: application/json, not {request.mimetype}"
        )


def is_loopback_host(host: str) -> bool:
    """True for a `Host` header naming this machine: localhost, 127.0.0.0/8 or ::1, any port."""
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_loopback_origin(origin: str) -> bool:
    """True for an http(s) `Origin` whose host is a loopback name."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and is_loopback_host(parts.netloc)
