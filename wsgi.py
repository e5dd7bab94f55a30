"""WSGI entry points: `wsgi:admin_app` (port 8001) and `wsgi:proxy_app` (port 8002).

Each is built lazily on first use inside the gunicorn worker (after gevent patched it), so that
importing this module connects to nothing. With ADMIN_ON_PROXY_PORT=true the proxy's port also
serves the admin API (`app/combined.py`).
"""

from __future__ import annotations

from typing import Any

from app import create_app, cut_streams, prepare_to_serve, record_refusal, shutdown
from app.config import Settings


def build(role: str) -> tuple[Any, list[Any]]:
    """The WSGI app of `role` and the Flask apps behind it (to shut down)."""
    settings = Settings.from_env()
    if role == "proxy" and settings.admin_on_proxy_port:
        from app.combined import CombinedApp
        from app.storage.factory import open_database

        db = open_database(settings)
        proxy, admin = create_app("proxy", settings, db), create_app("admin", settings, db)
        prepare_to_serve(proxy)
        return CombinedApp(proxy, admin), [proxy, admin]
    app = create_app(role, settings)
    prepare_to_serve(app)
    return app, [app]


class _LazyApp:
    def __init__(self, role: str) -> None:
        self._role = role
        self._app: Any = None
        self._parts: list[Any] = []

    def load(self) -> Any:
        if self._app is None:
            self._app, self._parts = build(self._role)
        return self._app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return (self._app or self.load())(environ, start_response)

    def cut_streams(self) -> None:
        """Called when the grace period is nearly over (gunicorn.conf.py)."""
        for part in self._parts:  # a no-op for the admin app
            cut_streams(part)

    def record_refusal(
        self, method: str, path: str, headers: Any, status: int, message: str
    ) -> None:
        """Called by the server (app/serving.py) for a request it refused: its event."""
        self.load()
        for part in self._parts:  # a no-op for the admin app
            record_refusal(part, method, path, headers, status, message)

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Called by gunicorn's worker_exit hook: drain queued events before the process ends."""
        for part in self._parts:
            shutdown(part, timeout_s)


admin_app = _LazyApp("admin")
proxy_app = _LazyApp("proxy")
