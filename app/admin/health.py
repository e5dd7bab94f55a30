"""GET /api/health (liveness) and GET /api/health/ready (readiness), on both ports; HEAD too.

Neither needs the admin key: probes of load balancers and orchestrators send no headers, and
the answers hold no secret.
"""

from __future__ import annotations

from typing import Any

import flask

from app.observability import readiness

blp = flask.Blueprint("health", __name__)


@blp.get("/api/health")
def health() -> tuple[dict[str, str], int]:
    return {"status": "ok"}, 200


@blp.get("/api/health/ready")
def ready() -> tuple[dict[str, Any], int]:
    container = flask.current_app.extensions["bricks"]
    proxy = getattr(container, "proxy", None)  # a ProxyContainer; the admin's Container has none
    if proxy is not None:
        checks, extra = readiness.proxy_checks(proxy, container.events)
    else:
        checks, extra = readiness.admin_checks(container.db)
    return readiness.answer(checks, extra)
