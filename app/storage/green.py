"""psycopg2 under gevent: the wait callback that lets a query yield to the hub, with a deadline.

psycogreen's callback waits forever, and in this mode libpq's own connect_timeout does not apply:
a database that accepts connections but never answers (a hung server, a half-open connection
after a network failure) would hold a request or an event consumer for good. This callback gives
up after `connect_timeout_s` while connecting and `query_timeout_s` for anything else, raising
OperationalError; psycopg2 then closes the connection and the pool drops it.

Installed per gunicorn worker (gunicorn.conf.py post_fork) when PostgreSQL is configured.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg2
from psycopg2 import extensions


def install_wait_callback(connect_timeout_s: float, query_timeout_s: float) -> None:
    from gevent.socket import wait_read, wait_write

    waiters = {extensions.POLL_READ: wait_read, extensions.POLL_WRITE: wait_write}

    def wait(conn: Any) -> None:
        connecting = conn.status == extensions.STATUS_SETUP
        timeout = connect_timeout_s if connecting else query_timeout_s
        deadline = time.monotonic() + timeout
        while True:
            state = conn.poll()
            if state == extensions.POLL_OK:
                return
            waiter = waiters.get(state)
            if waiter is None:
                raise psycopg2.OperationalError(f"bad result from poll: {state!r}")
            try:
                waiter(conn.fileno(), timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError as exc:
                what = "accept the connection" if connecting else "answer"
                raise psycopg2.OperationalError(
                    f"PostgreSQL did not {what} within {timeout:g}s"
                ) from exc

    extensions.set_wait_callback(wait)
