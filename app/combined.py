"""One port for both APIs (`ADMIN_ON_PROXY_PORT=true`), for platforms with one public port.

A WSGI dispatcher in front of the proxy app and the admin app: a request goes to the admin app
when the admin API has a route for its method and path, and to the proxy otherwise. The proxy's
own fixed paths (/api/health, /api/health/ready, /metrics) stay the proxy's. The admin routes
(/api/key-management/..., /api/provider-settings, /api/events, /api/docs...) and the proxy's
(/api/providers/<provider>/..., POST /api/custom/providers/<name>/<route>) do not overlap, which
tests/functional/test_combined_port.py checks route by route. The admin API still requires
`X-API-KEY: $ADMIN_PASS` (the setting refuses to start without ADMIN_PASS).
"""

from __future__ import annotations

from typing import Any

import flask
from werkzeug.exceptions import HTTPException

PROXY_OWN_PATHS = frozenset({"/api/health", "/api/health/ready", "/metrics"})


class CombinedApp:
    def __init__(self, proxy: flask.Flask, admin: flask.Flask) -> None:
        self.proxy = proxy
        self.admin = admin
        self._admin_routes = admin.url_map.bind("localhost")

    def is_admin(self, method: str, path: str) -> bool:
        """True when the admin API has a route for `method path` (HEAD as GET)."""
        if path in PROXY_OWN_PATHS or method == "OPTIONS":
            return False
        try:
            endpoint, _ = self._admin_routes.match(path, "GET" if method == "HEAD" else method)
        except HTTPException:  # 404, 405, or a redirect: not an admin route for this method
            return False
        return bool(endpoint != "static")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        target = self.admin if self.is_admin(method, path) else self.proxy
        return target(environ, start_response)
