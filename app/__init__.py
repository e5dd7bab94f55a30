"""The gateway application factory: `create_app("admin")` or `create_app("proxy")`.

settings -> database -> container -> blueprints -> error handlers. Nothing connects at import.
"""

from __future__ import annotations

import logging
from typing import Any

import flask

from app.config import Settings
from app.container import Container
from app.errors import AdminError
from app.storage.database import Database, StorageError
from app.storage.factory import open_database

log = logging.getLogger("bricksllm")


def create_app(role: str, settings: Settings | None = None, db: Database | None = None) -> flask.Flask:
    if role not in ("admin", "proxy"):
        raise ValueError(f"unknown role {role!r}: use 'admin' or 'proxy'")
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = flask.Flask(f"bricksllm.{role}")
    app.config["MAX_CONTENT_LENGTH"] = 100 * 1024 * 1024
    container = Container.build(settings, db or open_database(settings))
    app.extensions["bricks"] = container
    if role == "admin":
        _setup_admin(app, container)
    else:
        _setup_proxy(app, container)
    return app


def _setup_admin(app: flask.Flask, container: Container) -> None:
    from app.admin import health, keys, provider_settings
    from app.admin.api import AdminApi
    from app.admin.auth import require_admin_key

    app.config.update(
        API_TITLE="BricksLLM-py admin API",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
    )
    api = AdminApi(app)
    api.spec.components.security_scheme("AdminKey", {"type": "apiKey", "in": "header", "name": "X-API-KEY"})
    for blueprint in (keys.blp, provider_settings.blp):
        api.register_blueprint(blueprint)
    app.register_blueprint(health.blp)
    admin_pass = container.settings.admin_pass
    app.before_request(lambda: require_admin_key(admin_pass))

    @app.errorhandler(AdminError)
    def _admin_error(error: AdminError) -> Any:
        return error.body(flask.request.path), error.status

    @app.errorhandler(StorageError)
    def _storage_error(error: StorageError) -> Any:
        log.error("storage failure on %s %s: %s", flask.request.method, flask.request.path, error)
        body = AdminError("the database is unavailable; nothing was changed").body(flask.request.path)
        body.update(status=503, type="/errors/storage", title="service unavailable")
        return body, 503


def _setup_proxy(app: flask.Flask, container: Container) -> None:
    from app.admin import health
    from app.proxy import views
    from app.proxy.runtime import build_runtime
    from app.storage.events import EventRepository

    events = _DirectEvents(EventRepository(container.db))
    container.runtime["proxy"] = build_runtime(container.settings, container.db, events)
    app.register_blueprint(health.blp)
    app.register_blueprint(views.blp)


class _DirectEvents:
    """Writes each event at once (replaced by the batching event bus)."""

    def __init__(self, repository: Any) -> None:
        self._repository = repository

    def publish(self, event: Any) -> None:
        self._repository.insert_many([event])
