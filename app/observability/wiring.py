"""Hooks the observability modules into the two apps (called from `app/__init__.py`).

Proxy: `/metrics`, and the background figures (event pipeline, snapshot, upstream pool).
Admin: an access line and an `X-Request-Id` header for every admin request.
"""

from __future__ import annotations

import time
from typing import Any

import flask

from app.config import Settings
from app.observability import access_log, metrics
from app.observability.request_id import HEADER, request_id


def setup_proxy(app: flask.Flask, settings: Settings, runtime: Any, bus: Any) -> None:
    from app.observability.routes import blp

    access_log.configure(settings.log_format, enabled=settings.access_log_enabled)
    if not settings.metrics_enabled:
        metrics.disable()
        return
    app.register_blueprint(blp)
    statsd = None
    if settings.stats_provider == "datadog":
        statsd = metrics.StatsdSink.to_agent(settings.dd_agent_host, settings.dd_dogstatsd_port)
    current = metrics.configure(statsd)
    current.watch_events(bus.stats)
    snapshot = runtime.snapshot
    current.watch_snapshot(
        lambda: metrics.SnapshotFigures(snapshot.age_s, len(snapshot.current.keys))
    )
    current.watch_upstream_pool(lambda: pool_figures(runtime.upstream))
    current.start_refresh()


def pool_figures(pool: Any) -> metrics.PoolFigures:
    """Upstream connections of every origin: taken (in use) and idle (reusable); zeros for an
    upstream that keeps no pool (the tests' in-process fake)."""
    counts = getattr(pool, "connection_counts", None)
    in_use, idle = counts() if callable(counts) else (0, 0)
    return metrics.PoolFigures(in_use=in_use, idle=idle)


def setup_admin(app: flask.Flask, settings: Settings) -> None:
    """Call before any other before_request hook (the admin key check), so the whole request
    is timed and a refused one still gets its line."""
    access_log.configure(settings.log_format, enabled=settings.access_log_enabled)

    @app.before_request
    def _start() -> None:
        flask.g.started = time.perf_counter()
        flask.g.request_id = request_id(flask.request.headers.get(HEADER))

    @app.after_request
    def _finish(response: flask.Response) -> flask.Response:
        rid = getattr(flask.g, "request_id", None) or request_id(None)
        started = getattr(flask.g, "started", time.perf_counter())
        response.headers[HEADER] = rid
        access_log.log_admin_request(
            flask.request.method, flask.request.path, response.status_code,
            (time.perf_counter() - started) * 1000, rid,
        )  # fmt: skip
        return response
