"""The embedded default database: SQLite in WAL mode, shared by the admin and proxy processes.

Calls are short and local, so they run on the calling greenlet; one connection per process is
guarded by a lock (patched to a gevent lock under gunicorn's gevent worker).
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from app.storage.database import Params, Row, StorageError, UniqueViolation

_PLACEHOLDER = re.compile(r"%s")


def _adapt(sql: str) -> str:
    return _PLACEHOLDER.sub("?", sql)


class _SqliteCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Params = ()) -> None:
        _run(self._cursor, sql, params)

    def fetchall(self) -> list[Row]:
        return [dict(row) for row in self._cursor.fetchall()]

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


def _run(cursor: sqlite3.Cursor, sql: str, params: Params) -> None:
    try:
        cursor.execute(_adapt(sql), tuple(params))
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            raise UniqueViolation(str(exc)) from exc
        raise StorageError(str(exc)) from exc
    except sqlite3.Error as exc:
        raise StorageError(str(exc)) from exc


class SqliteDatabase:
    """Database implementation over one SQLite file."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.execute("PRAGMA synchronous=NORMAL")

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        with self._lock:
            cursor = self._conn.cursor()
            _run(cursor, sql, params)
            return [dict(row) for row in cursor.fetchall()]

    def execute(self, sql: str, params: Params = ()) -> int:
        with self.transaction() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    @contextmanager
    def transaction(self) -> Iterator[_SqliteCursor]:
        with self._lock:
            cursor = self._conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteCursor(cursor)
            except BaseException:
                self._conn.rollback()
                raise
            else:
                self._conn.commit()

    def json_contains_all(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        marks = ", ".join(["%s"] * len(values))
        sql = (
            f"(SELECT COUNT(DISTINCT value) FROM json_each({column}) WHERE value IN ({marks})) = %s"
        )
        return sql, [*values, len(set(values))]

    def json_contains_any(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        marks = ", ".join(["%s"] * len(values))
        return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value IN ({marks}))", list(values)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
