"""Stores usage events; inserts are idempotent by event id so a replayed journal never doubles."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from app.domain.events import Event
from app.storage.database import Database, Row, from_json, placeholders, to_json
from app.storage.storable import clean_event, clean_text

_COLUMNS = (
    "id", "created_at", "key_id", "tags", "provider", "model", "path", "method", "status",
    "cost_micros", "prompt_token_count", "completion_token_count", "latency_in_ms", "custom_id",
    "user_id", "policy_id", "action", "route_id", "token_count_source", "error", "metadata",
)  # fmt: skip
_SELECT = ", ".join(f"e.{c}" for c in _COLUMNS)


@dataclass(frozen=True)
class EventFilter:
    """Which events a list or a report covers; empty fields select everything."""

    key_ids: Sequence[str] = ()
    custom_ids: Sequence[str] = ()
    user_ids: Sequence[str] = ()
    tags: Sequence[str] = ()  # the event carries every one of them
    policy_ids: Sequence[str] = ()
    actions: Sequence[str] = ()
    status: int | None = None
    start: int | None = None  # inclusive unix seconds
    end: int | None = None  # inclusive unix seconds


@dataclass(frozen=True)
class EventOrder:
    """Sort of an event list: by `created_at` or by `cost`, ascending or descending; ties by id."""

    by: str = "created_at"
    descending: bool = False

    def sql(self) -> str:
        direction = "DESC" if self.descending else "ASC"
        first = "e.cost_micros" if self.by == "cost" else "e.created_at"
        tail = f", e.created_at {direction}" if self.by == "cost" else ""
        return f"{first} {direction}{tail}, e.id {direction}"


OLDEST_FIRST = EventOrder()


def _values(event: Event) -> tuple[Any, ...]:
    return (
        event.id, event.created_at, event.key_id, to_json(list(event.tags)), event.provider,
        event.model, event.path, event.method, event.status, event.cost_micros,
        event.prompt_token_count, event.completion_token_count, event.latency_in_ms,
        event.custom_id, event.user_id, event.policy_id, event.action, event.route_id,
        event.token_count_source, event.error,
        None if event.metadata is None else to_json(event.metadata),
    )  # fmt: skip


# PostgreSQL takes a batch as one JSON array. Binding ~25 parameters per row had psycopg2 adapt
# each value in Python: four times the CPU of one orjson document, in the proxy worker that
# serves requests. The server spreads the document into typed rows.
_PG_TYPES = {
    "created_at": "bigint", "tags": "jsonb", "status": "integer", "cost_micros": "bigint",
    "prompt_token_count": "integer", "completion_token_count": "integer",
    "latency_in_ms": "integer", "metadata": "jsonb",
}  # fmt: skip
_PG_RECORD = ", ".join(f"{column} {_PG_TYPES.get(column, 'text')}" for column in _COLUMNS)
_PG_JSON_INSERT = (
    f"INSERT INTO events ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} "
    f"FROM jsonb_to_recordset(%s::jsonb) AS r({_PG_RECORD}) ON CONFLICT (id) DO NOTHING"
)


def _json_rows(events: Sequence[Event]) -> str:
    return orjson.dumps([{c: getattr(e, c) for c in _COLUMNS} for e in events]).decode()


def _row_to_event(row: Row) -> Event:
    request, response = row.get("request"), row.get("response")
    return Event(
        **{c: row[c] for c in _COLUMNS if c not in ("tags", "metadata")},
        tags=tuple(from_json(row["tags"], [])),
        metadata=from_json(row["metadata"]),
        request_body=None if request is None else bytes(request),
        response_body=None if response is None else bytes(response),
    )


class EventRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def insert_many(self, events: Sequence[Event]) -> int:
        """Insert atomically, skipping ids already stored; return how many were new.

        Rows go in multi-row INSERTs (one statement per `_ROWS_PER_INSERT` events), not one
        statement per event: a round trip per event was a tenth of a proxy worker's CPU.
        """
        if not events:
            return 0
        events = [clean_event(e) for e in events]  # the storage rule (app.storage.storable)
        with_bodies = [
            e for e in events if e.request_body is not None or e.response_body is not None
        ]
        if self._db.dialect == "postgres" and not with_bodies:
            return max(
                self._db.execute(_PG_JSON_INSERT, (_json_rows(events),)), 0
            )  # one round trip
        inserted = 0
        with self._db.transaction() as cursor:
            if self._db.dialect == "postgres":
                cursor.execute(_PG_JSON_INSERT, (_json_rows(events),))
                inserted += max(cursor.rowcount, 0)
            else:
                for chunk in _chunks(events, _ROWS_PER_INSERT):
                    cursor.execute(_multi_row_insert("events", _COLUMNS, len(chunk), "id"),
                                   [value for event in chunk for value in _values(event)])  # fmt: skip
                    inserted += max(cursor.rowcount, 0)
            for chunk in _chunks(with_bodies, _ROWS_PER_INSERT):
                cursor.execute(_multi_row_insert("event_bodies", _BODY_COLUMNS, len(chunk), "event_id"),
                               [v for e in chunk for v in (e.id, e.request_body, e.response_body)])  # fmt: skip
        return inserted

    def find(
        self,
        selection: EventFilter,
        limit: int = 1000,
        offset: int = 0,
        order: EventOrder = OLDEST_FIRST,
    ) -> list[Event]:
        """One page of matching events, with their bodies. The page is chosen on the hot rows
        first, so the bodies are read only for the events returned."""
        where, params = where_clause(self._db, selection)
        sql = (
            f"SELECT {_SELECT}, b.request, b.response FROM "
            f"(SELECT e.* FROM events e{where} ORDER BY {order.sql()} LIMIT %s OFFSET %s) e "
            f"LEFT JOIN event_bodies b ON b.event_id = e.id ORDER BY {order.sql()}"
        )
        return [_row_to_event(row) for row in self._db.query(sql, [*params, limit, offset])]

    def total_cost_micros(self, key_id: str) -> int:
        rows = self._db.query(
            "SELECT COALESCE(SUM(cost_micros), 0) AS total FROM events WHERE key_id = %s", (key_id,)
        )
        return int(rows[0]["total"])

    def spend_micros(self, key_id: str, start: int | None, end: int | None) -> int:
        """The key's spend between `start` (inclusive) and `end` (exclusive) unix seconds; None
        leaves a side open. What cost counters are rebuilt from (app/counters/reseed.py)."""
        sql = "SELECT COALESCE(SUM(cost_micros), 0) AS total FROM events WHERE key_id = %s"
        params: list[Any] = [key_id]
        if start is not None:
            sql += " AND created_at >= %s"
            params.append(start)
        if end is not None:
            sql += " AND created_at < %s"
            params.append(end)
        return int(self._db.query(sql, params)[0]["total"])

    def count(self, selection: EventFilter) -> int:
        where, params = where_clause(self._db, selection)
        return int(self._db.query(f"SELECT COUNT(*) AS n FROM events e{where}", params)[0]["n"])

    def delete_older_than(self, cutoff: int, batch_size: int = 5000) -> int:
        """Delete at most `batch_size` of the oldest events created before `cutoff` (and their
        bodies) in one short transaction; return how many went. Call again until it returns 0."""
        with self._db.transaction() as cursor:
            cursor.execute(
                "SELECT id FROM events WHERE created_at < %s ORDER BY created_at LIMIT %s",
                (cutoff, batch_size),
            )
            ids = [row["id"] for row in cursor.fetchall()]
            if not ids:
                return 0
            marks = placeholders(len(ids))
            cursor.execute(f"DELETE FROM event_bodies WHERE event_id IN ({marks})", ids)
            cursor.execute(f"DELETE FROM events WHERE id IN ({marks})", ids)
        return len(ids)


def where_clause(db: Database, selection: EventFilter) -> tuple[str, list[Any]]:
    """` WHERE ...` over the events table aliased `e`, and its params (empty when no filter)."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, values in (("key_id", selection.key_ids), ("custom_id", selection.custom_ids),
                           ("user_id", selection.user_ids), ("policy_id", selection.policy_ids),
                           ("action", selection.actions)):  # fmt: skip
        if values:
            clauses.append(f"e.{column} IN ({placeholders(len(values))})")
            params += [clean_text(v) for v in values]  # as stored, and never a NUL to PostgreSQL
    if selection.tags:
        sql, values = db.json_contains_all("e.tags", [clean_text(t) for t in selection.tags])
        clauses.append(sql)
        params += values
    if selection.status is not None:
        clauses.append("e.status = %s")
        params.append(selection.status)
    if selection.start is not None:
        clauses.append("e.created_at >= %s")
        params.append(selection.start)
    if selection.end is not None:
        clauses.append("e.created_at <= %s")
        params.append(selection.end)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


# 200 rows of about 25 columns stay well under SQLite's 32,766 bound parameters per statement.
_ROWS_PER_INSERT = 200
_BODY_COLUMNS = ("event_id", "request", "response")
T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _multi_row_insert(table: str, columns: Sequence[str], rows: int, key: str) -> str:
    row = f"({placeholders(len(columns))})"
    values = ", ".join([row] * rows)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values} ON CONFLICT ({key}) DO NOTHING"
    )
