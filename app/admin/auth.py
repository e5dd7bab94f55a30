"""Admin authentication: `X-API-KEY` compared in constant time with ADMIN_PASS, when it is set."""

from __future__ import annotations

import hmac

import flask

from app.errors import Unauthorized

_OPEN_ENDPOINTS = {("GET", "/api/health"), ("HEAD", "/api/health")}


def require_admin_key(admin_pass: str) -> None:
    """Raise Unauthorized unless the request may pass. Without ADMIN_PASS everything passes: the
    admin server then binds to loopback only (see gunicorn.conf.py)."""
    request = flask.request
    if not admin_pass or (request.method, request.path) in _OPEN_ENDPOINTS:
        return
    offered = request.headers.get("X-API-KEY", "")
    if not hmac.compare_digest(offered.encode("utf-8"), admin_pass.encode("utf-8")):
        raise Unauthorized("a valid X-API-KEY header is required")
