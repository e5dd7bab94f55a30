"""The seam every repository uses: run SQL, get rows as dicts, in or out of a transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from app.errors import StorageError as StorageError  # re-exported: raised by the backends
from app.errors import UniqueViolation as UniqueViolation

Row = dict[str, Any]
Params = Sequence[Any]


class Cursor(Protocol):
    def execute(self, sql: str, params: Params = ()) -> None: ...
    def fetchall(self) -> list[Row]: ...
    @property
    def rowcount(self) -> int: ...


class Database(Protocol):
    """One database, shared by every repository of a process."""

    dialect: str  # "sqlite" or "postgres"

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a read and return its rows."""
        ...

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write in its own transaction; return the affected row count."""
        ...

    def transaction(self) -> AbstractContextManager[Cursor]:
        """A cursor whose statements commit together, or roll back on an exception."""
        ...

    def json_contains_all(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        """SQL and params for: the JSON array in `column` holds every one of `values`."""
        ...

    def json_contains_any(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        """SQL and params for: the JSON array in `column` holds at least one of `values`."""
        ...

    def close(self) -> None: ...


def to_json(value: Any) -> str:
    """Canonical JSON text for a stored column."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def from_json(value: Any, default: Any = None) -> Any:
    """Read a JSON column: SQLite gives text, PostgreSQL's jsonb arrives already parsed."""
    if value is None:
        return default
    if isinstance(value, (str, bytes, bytearray)):
        return json.loads(value)
    return value


def placeholders(count: int) -> str:
    """`%s, %s, ...` for an IN list."""
    return ", ".join(["%s"] * count)


def page_clause(dialect: str, limit: int | None, offset: int) -> tuple[str, list[int]]:
    """` LIMIT %s OFFSET %s` (or only the offset) and its parameters; SQLite needs a LIMIT before
    an OFFSET, and -1 means none."""
    if limit is not None:
        return " LIMIT %s OFFSET %s", [limit, offset]
    if offset:
        return (" LIMIT -1 OFFSET %s" if dialect == "sqlite" else " OFFSET %s"), [offset]
    return "", []
