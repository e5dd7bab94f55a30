"""Gunicorn settings for both servers; `BRICKS_ROLE` (admin or proxy) picks the bind and defaults.

Environment: ADMIN_PORT / PROXY_PORT (or PORT, as Heroku sets it for `web`), GUNICORN_WORKERS
(or WEB_CONCURRENCY), GUNICORN_WORKER_CONNECTIONS, GUNICORN_TIMEOUT, GUNICORN_GRACEFUL_TIMEOUT,
GUNICORN_KEEPALIVE, GUNICORN_WORKER_CLASS, REQUEST_HEAD_TIMEOUT and REQUEST_BODY_TIMEOUT (whole
seconds: a request's head must arrive within the first of its first byte, its body within the
second of its head; else 408). No preload: gevent patches each worker after the fork.
"""

import logging
import os
import shutil
import subprocess
import sys
import tempfile

_role = os.environ.get("BRICKS_ROLE", "proxy")
_log = logging.getLogger("gunicorn.error")


def _int(name, default):
    value = os.environ.get(name, "")
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"{name}={value!r} must be a whole number of at least 1")
    return int(value)


def _bind():
    if _role == "admin":
        host = "0.0.0.0" if os.environ.get("ADMIN_PASS") else "127.0.0.1"
        return f"{host}:{_int('ADMIN_PORT', 8001)}"
    return f"0.0.0.0:{_int('PORT', 0) or _int('PROXY_PORT', 8002)}"


def _workers():
    requested = _int("GUNICORN_WORKERS", _int("WEB_CONCURRENCY", 0))
    if _role == "admin":
        return requested or 1
    if not (os.environ.get("REDIS_HOSTS") or os.environ.get("REDIS_URL")):
        # In-process counters are exact only inside one process.
        if requested > 1:
            print(
                "neither REDIS_HOSTS nor REDIS_URL is set: limits are counted in-process, so the proxy runs 1 worker"
            )
        return 1
    return requested or 2


def _gevent_worker_with_keepalive():
    """gunicorn's `gevent_pywsgi` worker, serving through the handler of `app/serving.py`.

    gevent's WSGI server costs 8-10% less CPU per proxied request than gunicorn's `gevent`
    worker (bench/results/REPORT.md); the handler adds gunicorn's `keepalive` as the bound on
    every wait for a client, and writes with fewer system calls. Only the worker class is defined
    here: the master process imports nothing of the app (and not ssl) before gevent patches each
    worker, and the handler is built in the worker once it has been patched.
    """
    from gunicorn.workers.ggevent import GeventPyWSGIWorker

    class GeventWorker(GeventPyWSGIWorker):
        def handle_exit(self, sig, frame):
            # A graceful stop: streams still running when the grace period is nearly over are
            # cut by the app itself, with their events, before the arbiter kills the worker.
            # Idle keep-alive connections are closed at once: gunicorn would wait for them until
            # the graceful timeout.
            super().handle_exit(sig, frame)
            import gevent

            from app.serving import close_idle_connections

            gevent.spawn(close_idle_connections)
            cut = getattr(self.wsgi, "cut_streams", None)
            if callable(cut):
                gevent.spawn_later(_stream_cut_after(self.cfg.graceful_timeout), cut)

        def load_wsgi(self):
            from app.serving import client_handler

            self.wsgi_handler = client_handler(
                float(self.cfg.keepalive) if self.cfg.keepalive else None,
                head_timeout_s=float(_head_timeout),
                body_timeout_s=float(_body_timeout),
                worker_connections=self.worker_connections,
                error_shape="admin" if _role == "admin" else "proxy",
            )
            super().load_wsgi()

    return GeventWorker


def _metrics_dir():
    """Prometheus multiprocess mode: every proxy worker writes its figures to files in one
    directory, summed by whichever worker is scraped. Set here, in the master, before any worker
    imports prometheus_client (which picks its mode at import). Unset: a fresh temporary one."""
    if _role != "proxy":
        return None, False
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        return path, False
    path = tempfile.mkdtemp(prefix="bricksllm-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path, True


_metrics_path, _metrics_path_is_ours = _metrics_dir()

_head_timeout = _int("REQUEST_HEAD_TIMEOUT", 10)  # read here: a bad value stops the master
_body_timeout = _int("REQUEST_BODY_TIMEOUT", 60)
bind = [_bind()]
workers = _workers()
worker_class = os.environ.get("GUNICORN_WORKER_CLASS") or _gevent_worker_with_keepalive()
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 2000)
timeout = _int("GUNICORN_TIMEOUT", 30)  # a heartbeat, not a request limit: long streams are fine
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 75)
wsgi_app = f"wsgi:{_role}_app"
proc_name = f"bricksllm-{_role}"
preload_app = False
# gunicorn >= 25 opens a control socket at one fixed path per user: the admin and proxy servers
# (and every other gunicorn of the user) would fight over it, and nothing here uses gunicornc.
control_socket_disable = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def _refuse_an_unmigrated_database():
    """A proxy on an unmigrated database would die in every worker with tracebacks: say what to
    run, in one line, before gunicorn starts (in a child: the master imports nothing of the app)."""
    check = subprocess.run(
        [sys.executable, "-m", "app.cli", "check"], capture_output=True, text=True, timeout=60
    )
    if check.returncode != 0:
        lines = (check.stderr or check.stdout).strip().splitlines() or ["database check failed"]
        print(lines[-1], file=sys.stderr, flush=True)
        sys.exit(check.returncode)


if _role == "proxy":
    _refuse_an_unmigrated_database()


def on_starting(server):
    if _role != "proxy":
        return
    # Files of an earlier run would be summed into this one's counters.
    for name in os.listdir(_metrics_path):
        if name.endswith(".db"):
            os.remove(os.path.join(_metrics_path, name))


def child_exit(server, worker):
    if _metrics_path:
        from prometheus_client import multiprocess

        # Drops the dead worker's gauges (live* modes); its counters stay in the sums.
        multiprocess.mark_process_dead(worker.pid, _metrics_path)


def on_exit(server):
    if _metrics_path_is_ours:
        shutil.rmtree(_metrics_path, ignore_errors=True)


def _drain_budget(grace_s):
    """Seconds the worker keeps for storing (or journaling) queued events at its exit."""
    return min(max(1.0, grace_s / 3), 5.0)


def _stream_cut_after(grace_s):
    """When, after a graceful stop began, the streams still in flight are cut: early enough that
    their events are drained within the grace period."""
    return max(0.0, grace_s - _drain_budget(grace_s) - 0.5)


def when_ready(server):
    if _role == "admin" and not os.environ.get("ADMIN_PASS"):
        server.log.warning(
            "ADMIN_PASS is not set: the admin API listens on 127.0.0.1 only and needs no X-API-KEY"
        )


def post_fork(server, worker):
    # psycopg2 blocks the whole worker unless it waits through gevent; the wait has a deadline.
    if os.environ.get("POSTGRESQL_HOSTS") or os.environ.get("DATABASE_URL"):
        from app.config import Settings
        from app.storage.green import install_wait_callback
        from app.storage.postgres import client_timeouts

        install_wait_callback(*client_timeouts(Settings.from_env()))


def post_worker_init(worker):
    # Build the app now (gevent has patched this worker): the config snapshot, the event bus and
    # the replay of any journal left by an earlier process start at boot, not at the first request.
    load = getattr(worker.wsgi, "load", None)
    if callable(load):
        load()


def worker_exit(server, worker):
    # Drain queued events before the process ends; well under graceful_timeout, after which the
    # arbiter kills the worker (whatever was journaled survives that).
    shutdown = getattr(worker.wsgi, "shutdown", None)
    if callable(shutdown):
        shutdown(_drain_budget(graceful_timeout))
