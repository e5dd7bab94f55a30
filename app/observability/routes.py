"""GET /metrics on the proxy's port: Prometheus text, summed over every gunicorn worker.

The labels are bounded and hold no key, user or secret (see `metrics.py`).
"""

from __future__ import annotations

import flask
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from app.observability import metrics, request_records

blp = flask.Blueprint("metrics", __name__)


def exposition() -> bytes:
    """The text a scrape gets: every worker's files in multiprocess mode, else this process."""
    current = metrics.current()
    request_records.drain()  # this worker's requests are in at once; others within a second
    current.flush()
    current.refresh()  # this worker's background figures are fresh; others refresh every 5 s
    if flask.current_app.extensions["bricks"].settings.prometheus_multiproc_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(current.registry)


@blp.get("/metrics")
def scrape() -> flask.Response:
    return flask.Response(exposition(), mimetype=CONTENT_TYPE_LATEST)
