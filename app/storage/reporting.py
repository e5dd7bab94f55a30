"""Aggregates over the events table for the reporting API: time buckets, latency percentiles,
spend per key and the distinct user and custom ids of a key.

Same SQL on both backends except the percentiles: PostgreSQL's `percentile_cont`, and on SQLite
the same linear interpolation between the two neighbouring rows (see `_interpolate`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.storage.database import Database, Row
from app.storage.events import EventFilter, where_clause
from app.storage.keys import KeyFilter, KeyRepository

# Group-by names of the wire -> events columns. Only these names ever reach the SQL text.
GROUP_COLUMNS = {"model": "model", "keyId": "key_id", "customId": "custom_id", "userId": "user_id"}


@dataclass(frozen=True)
class Bucket:
    """Totals of the events of one time bucket (and one group, when grouped)."""

    time_stamp: int
    requests: int
    cost_micros: int
    latency_ms: int
    prompt_tokens: int
    completion_tokens: int
    successes: int
    group: dict[str, str]


class ReportingRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def buckets(
        self, selection: EventFilter, increment: int, group_by: Sequence[str] = ()
    ) -> list[Bucket]:
        """Totals per `increment`-second bucket counted from `selection.start` (required), and per
        group; only buckets holding events, ordered by time then group."""
        if selection.start is None:
            raise ValueError("buckets need a start")
        columns = [GROUP_COLUMNS[name] for name in group_by]
        where, params = where_clause(self._db, selection)
        groups = "".join(f", e.{c}" for c in columns)
        named = "".join(f", e.{c} AS {c}" for c in columns)
        sql = (
            "SELECT ((e.created_at - %s) / %s) AS bucket, COUNT(*) AS requests, "
            "SUM(e.cost_micros) AS cost, SUM(e.latency_in_ms) AS latency, "
            "SUM(e.prompt_token_count) AS prompt, SUM(e.completion_token_count) AS completion, "
            "SUM(CASE WHEN e.status BETWEEN 200 AND 299 THEN 1 ELSE 0 END) AS successes"
            f"{named} FROM events e{where} GROUP BY 1{groups} ORDER BY 1{groups}"
        )
        rows = self._db.query(sql, [selection.start, increment, *params])
        return [_bucket(row, selection.start, increment, group_by) for row in rows]

    def latency_percentiles(
        self, selection: EventFilter, fractions: Sequence[float]
    ) -> list[float]:
        """The continuous percentile (`percentile_cont`) of latency_in_ms over every selected
        event, for each fraction in [0, 1]; 0.0 when nothing is selected."""
        where, params = where_clause(self._db, selection)
        if self._db.dialect == "postgres":
            parts = ", ".join(
                f"percentile_cont(%s::float8) WITHIN GROUP (ORDER BY e.latency_in_ms) AS p{i}"
                for i in range(len(fractions))
            )
            sql = f"SELECT {parts} FROM events e{where}"
            row = self._db.query(sql, [*map(float, fractions), *params])[0]
            return [float(row[f"p{i}"] or 0.0) for i in range(len(fractions))]
        count = int(self._db.query(f"SELECT COUNT(*) AS n FROM events e{where}", params)[0]["n"])
        return [self._sqlite_percentile(where, params, count, f) for f in fractions]

    def _sqlite_percentile(
        self, where: str, params: list[Any], count: int, fraction: float
    ) -> float:
        if count == 0:
            return 0.0
        position = fraction * (count - 1)
        rows = self._db.query(
            f"SELECT e.latency_in_ms AS v FROM events e{where} "
            "ORDER BY e.latency_in_ms LIMIT 2 OFFSET %s",
            [*params, math.floor(position)],
        )
        values = [float(r["v"]) for r in rows]
        return _interpolate(values[0], values[-1], position)

    def spend_by_key(
        self,
        selection: EventFilter,
        keys: KeyFilter | None = None,
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[tuple[str, int]]:
        """(key id, micro-dollars spent) of each key with events in the selection, ordered by
        spend (ties by key id); `keys` narrows to the keys the keys table selects."""
        where, params = where_clause(self._db, selection)
        clauses = [where[len(" WHERE ") :]] if where else []
        clauses.append("e.key_id <> ''")
        if keys is not None:
            key_where, key_params = KeyRepository(self._db).where(keys)
            clauses.append(f"e.key_id IN (SELECT key_id FROM keys{key_where})")
            params += key_params
        direction = "DESC" if descending else "ASC"
        sql = (
            "SELECT e.key_id AS key_id, SUM(e.cost_micros) AS cost FROM events e "
            f"WHERE {' AND '.join(clauses)} GROUP BY e.key_id ORDER BY 2 {direction}, 1"
        )
        if limit is not None or offset:
            sql += " LIMIT %s OFFSET %s"
            params += [limit if limit is not None else 2**62, offset]
        return [(row["key_id"], int(row["cost"])) for row in self._db.query(sql, params)]

    def distinct_ids(self, column: str, key_id: str) -> list[str]:
        """The non-empty `user_id`s or `custom_id`s of a key's events, sorted."""
        if column not in ("user_id", "custom_id"):
            raise ValueError(f"not an id column: {column}")
        rows = self._db.query(
            f"SELECT DISTINCT {column} AS v FROM events WHERE key_id = %s AND {column} <> '' "
            "ORDER BY 1",
            (key_id,),
        )
        return [row["v"] for row in rows]


def _interpolate(low: float, high: float, position: float) -> float:
    """percentile_cont between the rows at floor(position) and ceil(position), as PostgreSQL
    computes it: low + (high - low) * (position - floor(position))."""
    return low + (high - low) * (position - math.floor(position))


def _bucket(row: Row, start: int, increment: int, group_by: Sequence[str]) -> Bucket:
    return Bucket(
        time_stamp=start + int(row["bucket"]) * increment,
        requests=int(row["requests"]),
        cost_micros=int(row["cost"] or 0),
        latency_ms=int(row["latency"] or 0),
        prompt_tokens=int(row["prompt"] or 0),
        completion_tokens=int(row["completion"] or 0),
        successes=int(row["successes"] or 0),
        group={name: row[GROUP_COLUMNS[name]] for name in group_by},
    )
