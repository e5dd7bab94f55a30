"""PostgreSQL through psycopg2: a pool that waits (never fails) when exhausted, cooperative under gevent.

Under gunicorn's gevent worker, `gunicorn.conf.py` installs a wait callback (`green.py`) after
the fork, so a query blocks only its own greenlet. Every connection has a connect timeout and a
statement timeout, and the callback a client-side deadline, so no request hangs on a dead or a
hung database.
"""

from __future__ import annotations

import queue
import select
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extras

from app.storage.database import Params, Row, StorageError, UniqueViolation


def dsn_from_settings(settings: Any) -> dict[str, Any]:
    """libpq connection keywords from the POSTGRESQL_* settings (several hosts comma-joined)."""
    return {
        "host": ",".join(settings.postgresql_hosts),
        "port": settings.postgresql_port,
        "dbname": settings.postgresql_db_name or None,
        "user": settings.postgresql_username or None,
        "password": settings.postgresql_password or None,
        "sslmode": settings.postgresql_ssl_mode,
        "connect_timeout": max(1, int(settings.postgresql_write_timeout)),
        "options": f"-c statement_timeout={int(settings.postgresql_read_timeout * 1000)}",
        "keepalives": 1,
        "keepalives_idle": 30,
        "application_name": "bricksllm-py",
    }


def client_timeouts(settings: Any) -> tuple[float, float]:
    """(connect, query) deadlines of the gevent wait callback. A query gets the statement timeout
    plus the write timeout, so the server's own timeout, when it can act, fires first."""
    connect = float(max(1, int(settings.postgresql_write_timeout)))
    return connect, settings.postgresql_read_timeout + settings.postgresql_write_timeout


class _PgCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Params = ()) -> None:
        _run(self._cursor, sql, params)

    def fetchall(self) -> list[Row]:
        # Plain tuples zipped with the column names: a third of the cost of RealDictCursor, which
        # shows on reports of thousands of rows.
        names = [column.name for column in self._cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in self._cursor.fetchall()]

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


def _run(cursor: Any, sql: str, params: Params) -> None:
    try:
        cursor.execute(sql, tuple(params))
    except psycopg2.errors.UniqueViolation as exc:
        raise UniqueViolation(str(exc).splitlines()[0]) from exc
    except psycopg2.Error as exc:
        raise StorageError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


def _usable(conn: Any) -> bool:
    """An idle connection has nothing to read; if it has, it is the server's goodbye (or EOF).

    One non-blocking poll of the socket, instead of a query: after a database restart every
    pooled connection is dead, and handing them out would fail that many requests in a row.
    """
    if conn.closed:
        return False
    try:
        readable, _, _ = select.select([conn], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class PostgresDatabase:
    """Database implementation over a bounded pool of psycopg2 connections."""

    dialect = "postgres"

    def __init__(self, dsn: dict[str, Any], pool_size: int = 10, wait_timeout: float = 5.0) -> None:
        self._dsn = {k: v for k, v in dsn.items() if v is not None}
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots: queue.Queue[None] = queue.Queue()
        for _ in range(pool_size):
            self._slots.put(None)
        self._wait_timeout = wait_timeout

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        try:
            self._slots.get(timeout=self._wait_timeout)
        except queue.Empty as exc:
            raise StorageError("no PostgreSQL connection free within the wait timeout") from exc
        conn = None
        try:
            conn = self._checkout()
            yield conn
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            if conn is not None:
                conn.close()
                conn = None
            raise
        finally:
            if conn is not None and not conn.closed:
                self._idle.put(conn)
            self._slots.put(None)

    def _checkout(self) -> Any:
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                break
            if _usable(conn):
                return conn
            conn.close()  # the server ended it while idle (restart, failover, idle timeout)
        try:
            return psycopg2.connect(**self._dsn)
        except psycopg2.Error as exc:
            raise StorageError(f"cannot connect to PostgreSQL: {str(exc).strip()}") from exc

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        with self._cursor(autocommit=True) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def execute(self, sql: str, params: Params = ()) -> int:
        with self._cursor(autocommit=True) as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    @contextmanager
    def transaction(self) -> Iterator[_PgCursor]:
        with self._cursor(autocommit=False) as cursor:
            yield cursor

    @contextmanager
    def _cursor(self, autocommit: bool) -> Iterator[_PgCursor]:
        """A cursor on a pooled connection. In autocommit each statement commits on its own: one
        round trip to the server where a transaction takes three (BEGIN, the statement, COMMIT),
        the same outcome for a lone statement. Otherwise the statements commit together, or roll
        back on an exception."""
        try:
            with self._connection() as conn:
                conn.autocommit = autocommit  # no round trip: no transaction is open here
                try:
                    with conn.cursor() as raw:
                        yield _PgCursor(raw)
                    if not autocommit:
                        conn.commit()
                except BaseException:
                    if not autocommit and not conn.closed:
                        conn.rollback()
                    raise
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            raise StorageError(str(exc).strip() or "PostgreSQL connection lost") from exc

    def json_contains_all(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{column}::jsonb @> %s::jsonb", [psycopg2.extras.Json(list(values))]

    def json_contains_any(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{column}::jsonb ?| %s", [list(values)]

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
