"""The gateway application factory: `create_app("admin")` or `create_app("proxy")`.

settings -> database -> container -> blueprints -> error handlers. Nothing connects at import.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping
from typing import Any, cast

import flask
from werkzeug.exceptions import HTTPException

from app.config import Settings
from app.container import Container, ProxyContainer
from app.errors import AdminError, ProxyError, ServiceUnavailable
from app.storage.database import Database, StorageError
from app.storage.factory import open_database

log = logging.getLogger("bricksllm")


def create_app(
    role: str, settings: Settings | None = None, db: Database | None = None
) -> flask.Flask:
    if role not in ("admin", "proxy"):
        raise ValueError(f"unknown role {role!r}: use 'admin' or 'proxy'")
    settings = settings or Settings.from_env()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = flask.Flask(f"bricksllm.{role}")
    app.config["MAX_CONTENT_LENGTH"] = 100 * 1024 * 1024
    database = db or open_database(settings)
    if role == "admin":
        container = Container.build(settings, database)
        app.extensions["bricks"] = container
        _setup_admin(app, container)
    else:
        app.extensions["bricks"] = _setup_proxy(app, settings, database)
    return app


def _setup_admin(app: flask.Flask, container: Container) -> None:
    from app.admin import (
        custom_providers,
        docs_assets,
        events,
        health,
        keys,
        policies,
        provider_settings,
        reporting,
        routes,
        users,
    )
    from app.admin.api import AdminApi
    from app.admin.auth import require_admin_key
    from app.admin.guard import check_request

    app.config.update(
        API_TITLE="BricksLLM-py admin API",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=docs_assets.URL_PREFIX,  # served locally: the docs work offline
    )
    from app.observability import wiring

    wiring.setup_admin(app, container.settings)
    api = AdminApi(app)
    api.spec.components.security_scheme(
        "AdminKey", {"type": "apiKey", "in": "header", "name": "X-API-KEY"}
    )
    blueprints = (
        keys.blp,
        provider_settings.blp,
        custom_providers.blp,
        events.blp,
        users.blp,
        policies.blp,
        reporting.blp,
        routes.blp,
    )
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    from app.admin.openapi_docs import document

    document(api)
    app.register_blueprint(health.blp)
    if container.settings.event_retention_days:
        from app.services.retention import EventRetention
        from app.storage.events import EventRepository

        retention = EventRetention(
            EventRepository(container.db), container.settings.event_retention_days
        )
        container.retention = retention.start()
    app.register_blueprint(docs_assets.blp)
    admin_pass = container.settings.admin_pass
    max_body = container.settings.admin_max_body_bytes
    app.config["MAX_CONTENT_LENGTH"] = max_body  # a chunked body is cut there too (413)
    app.before_request(lambda: check_request(admin_pass, max_body))
    app.before_request(lambda: require_admin_key(admin_pass))

    @app.errorhandler(AdminError)
    def _admin_error(error: AdminError) -> Any:
        return error.body(flask.request.path), error.status

    @app.errorhandler(StorageError)
    def _storage_error(error: StorageError) -> Any:
        log.error("storage failure on %s %s: %s", flask.request.method, flask.request.path, error)
        unavailable = ServiceUnavailable("the database is unavailable; nothing was changed")
        return unavailable.body(flask.request.path), unavailable.status


def _setup_proxy(app: flask.Flask, settings: Settings, db: Database) -> ProxyContainer:
    from app.admin import health
    from app.events import EventBus
    from app.events.inflight import InFlightLog
    from app.proxy import views
    from app.proxy.runtime import build_runtime
    from app.storage.events import EventRepository

    bus = EventBus(
        EventRepository(db),
        consumers=settings.number_of_event_message_consumers,
        queue_size=settings.event_queue_size,
        journal_dir=settings.event_journal_dir,
        inflight=InFlightLog(settings.event_journal_dir),
    )
    bus.start()
    container = ProxyContainer(settings, db, bus, build_runtime(settings, db, bus))
    from app.observability import wiring

    app.register_blueprint(health.blp)
    wiring.setup_proxy(app, settings, container.proxy, bus)  # /metrics before the catch-all
    app.register_blueprint(views.blp)
    app.register_error_handler(Exception, _proxy_error)
    return container


def _proxy_error(error: Exception) -> Any:
    """Whatever escapes the proxy's views (a method it does not serve, a body too large or too
    slow, an unexpected failure) answers JSON in the proxy's error shape, never an HTML page."""
    if isinstance(error, HTTPException):
        status = error.code or 500
        message = error.description or error.name
    else:
        log.error("unhandled error on %s %s", flask.request.method, flask.request.path,
                  exc_info=error)  # fmt: skip
        status, message = 500, "internal error"
    response = flask.jsonify(ProxyError(status, str(message)).body())
    response.status_code = status
    _record_refusal_of_request(status, str(message))
    allow = error.get_response().headers.get("Allow") if isinstance(error, HTTPException) else None
    if allow:
        response.headers["Allow"] = allow
    if status in (408, 413):
        response.headers["Connection"] = "close"  # the rest of the body is not read
    return response


def _record_refusal_of_request(status: int, message: str) -> None:
    """The event of a request the proxy's views never handled (a 405, 408, 413, or a fault)."""
    from app.proxy.refusals import record_refusal

    request = flask.request
    runtime = flask.current_app.extensions["bricks"].proxy
    try:
        headers = cast(Mapping[str, str], request.headers)  # werkzeug's, case-insensitive
        record_refusal(runtime, request.method, request.path, headers, status, message)
    except Exception:  # the answer must not fail because its event did
        log.exception("could not record the refusal of %s %s", request.method, request.path)


def record_refusal(
    app: flask.Flask, method: str, path: str, headers: Mapping[str, str], status: int,
    message: str,
) -> None:  # fmt: skip
    """The event of a request the server refused before the app saw it (`app/serving.py`);
    nothing for the admin app, which keeps no events."""
    container = app.extensions["bricks"]
    if isinstance(container, ProxyContainer):
        from app.proxy.refusals import record_refusal as record

        record(container.proxy, method, path, headers, status, message)


def prepare_to_serve(app: flask.Flask) -> None:
    """Once per server process, before its first request: load the vocabulary that prices every
    current OpenAI model (o200k_base; others load on first use), then freeze what is loaded.

    Frozen objects stay out of the garbage collector's passes: a full pass walked the app and the
    vocabulary, 25-50 ms in the middle of some request (the p99 of every latency run). Only what
    lives as long as the process is loaded at this point.
    """
    container = app.extensions["bricks"]
    if isinstance(container, ProxyContainer):
        from app.providers.tokens import O200K_BASE

        container.proxy.pricer.tokens.preload((O200K_BASE,))
        # Compiled patterns, phone metadata and, with AWS credentials, Comprehend's client: a
        # full pass over botocore's models alone took ~100 ms in the middle of a request.
        warm = getattr(container.proxy.detectors, "warm", None)
        if warm is not None:
            warm()
    gc.freeze()


def cut_streams(app: flask.Flask) -> int:
    """End the proxy's streams still in flight (each with an error event and its own event row),
    so that a shutdown records them before the grace period runs out; how many were cut."""
    container = app.extensions["bricks"]
    if not isinstance(container, ProxyContainer):
        return 0
    cut = container.proxy.streams.cut_all()
    if cut:
        log.warning("shutting down: %d streams still in flight were cut and recorded", cut)
    return cut


def shutdown(app: flask.Flask, timeout_s: float = 10.0) -> bool:
    """Stop the background loops and drain what the app still holds (queued events); True when
    nothing was lost."""
    from app.observability import access_log, metrics, request_records

    request_records.drain()
    access_log.flush()
    metrics.flush()
    container: Container | ProxyContainer = app.extensions["bricks"]
    if isinstance(container, Container):
        if container.retention is not None:
            container.retention.stop()
        return True
    container.proxy.snapshot.stop()
    drained = container.events.drain(timeout_s)
    if not drained:
        log.error("events could not all be stored or journaled at shutdown")
    return bool(drained)
