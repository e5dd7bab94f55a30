"""GET /api/health, served by the admin app and the proxy app alike."""

from __future__ import annotations

import flask

blp = flask.Blueprint("health", __name__)


@blp.get("/api/health")
def health() -> tuple[dict[str, str], int]:
    return {"status": "ok"}, 200
