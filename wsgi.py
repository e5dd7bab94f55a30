"""WSGI entry points: `wsgi:admin_app` (port 8001) and `wsgi:proxy_app` (port 8002).

Each is built lazily on first use inside the gunicorn worker (after gevent patched it), so that
importing this module connects to nothing.
"""

from __future__ import annotations

from typing import Any

from app import create_app, cut_streams, prepare_to_serve, shutdown


class _LazyApp:
    def __init__(self, role: str) -> None:
        self._role = role
        self._app: Any = None

    def load(self) -> Any:
        if self._app is None:
            self._app = create_app(self._role)
            prepare_to_serve(self._app)
        return self._app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return (self._app or self.load())(environ, start_response)

    def cut_streams(self) -> None:
        """Called when the grace period is nearly over (gunicorn.conf.py)."""
        if self._app is not None:
            cut_streams(self._app)

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Called by gunicorn's worker_exit hook: drain queued events before the process ends."""
        if self._app is not None:
            shutdown(self._app, timeout_s)


admin_app = _LazyApp("admin")
proxy_app = _LazyApp("proxy")
