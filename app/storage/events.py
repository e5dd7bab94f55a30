"""Stores usage events; inserts are idempotent by event id so a replayed journal never doubles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.events import Event
from app.storage.database import Database, Row, from_json, placeholders, to_json

_COLUMNS = (
    "id", "created_at", "key_id", "tags", "provider", "model", "path", "method", "status",
    "cost_micros", "prompt_token_count", "completion_token_count", "latency_in_ms", "custom_id",
    "user_id", "policy_id", "action", "route_id", "token_count_source", "error", "metadata",
)  # fmt: skip
_SELECT = ", ".join(f"e.{c}" for c in _COLUMNS)


@dataclass(frozen=True)
class EventFilter:
    key_ids: Sequence[str] = ()
    custom_ids: Sequence[str] = ()
    user_ids: Sequence[str] = ()
    start: int | None = None  # inclusive unix seconds
    end: int | None = None  # inclusive unix seconds


def _values(event: Event) -> tuple[Any, ...]:
    return (
        event.id, event.created_at, event.key_id, to_json(list(event.tags)), event.provider,
        event.model, event.path, event.method, event.status, event.cost_micros,
        event.prompt_token_count, event.completion_token_count, event.latency_in_ms,
        event.custom_id, event.user_id, event.policy_id, event.action, event.route_id,
        event.token_count_source, event.error,
        None if event.metadata is None else to_json(event.metadata),
    )  # fmt: skip


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
        """Insert in one transaction, skipping ids already stored; return how many were new."""
        if not events:
            return 0
        event_sql = (
            f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({placeholders(len(_COLUMNS))}) "
            "ON CONFLICT (id) DO NOTHING"
        )
        body_sql = (
            "INSERT INTO event_bodies (event_id, request, response) VALUES (%s, %s, %s) "
            "ON CONFLICT (event_id) DO NOTHING"
        )
        inserted = 0
        with self._db.transaction() as cursor:
            for event in events:
                cursor.execute(event_sql, _values(event))
                inserted += max(cursor.rowcount, 0)
                if event.request_body is not None or event.response_body is not None:
                    cursor.execute(body_sql, (event.id, event.request_body, event.response_body))
        return inserted

    def find(self, selection: EventFilter, limit: int = 1000, offset: int = 0) -> list[Event]:
        where, params = _where(selection)
        sql = (
            f"SELECT {_SELECT}, b.request, b.response FROM events e "
            f"LEFT JOIN event_bodies b ON b.event_id = e.id{where} "
            "ORDER BY e.created_at, e.id LIMIT %s OFFSET %s"
        )
        return [_row_to_event(row) for row in self._db.query(sql, [*params, limit, offset])]

    def total_cost_micros(self, key_id: str) -> int:
        rows = self._db.query(
            "SELECT COALESCE(SUM(cost_micros), 0) AS total FROM events WHERE key_id = %s", (key_id,)
        )
        return int(rows[0]["total"])

    def count(self, selection: EventFilter) -> int:
        where, params = _where(selection)
        return int(self._db.query(f"SELECT COUNT(*) AS n FROM events e{where}", params)[0]["n"])


def _where(selection: EventFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, values in (("key_id", selection.key_ids), ("custom_id", selection.custom_ids),
                           ("user_id", selection.user_ids)):  # fmt: skip
        if values:
            clauses.append(f"e.{column} IN ({placeholders(len(values))})")
            params += list(values)
    if selection.start is not None:
        clauses.append("e.created_at >= %s")
        params.append(selection.start)
    if selection.end is not None:
        clauses.append("e.created_at <= %s")
        params.append(selection.end)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
