"""Aggregates over the events table for the reporting API: time buckets, latency percentiles,
spend per key and the distinct user and custom ids of a key.

The same SQL on both backends; percentiles are interpolated from a latency histogram exactly as
PostgreSQL's `percentile_cont` does (`app.domain.stats`), so both answer the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from app.domain.stats import percentile_cont
from app.storage.database import Database, Row
from app.storage.events import EventFilter, where_clause
from app.storage.keys import KeyFilter, KeyRepository

# How PostgreSQL plans these reads, for this transaction only. JIT compiling costs more (tens to
# hundreds of ms) than it saves on queries meant to answer in well under a second; and the events'
# indexes are read from memory, so random reads are cheap: that lets the planner use the covering
# index (migration 0002, index-only scans) instead of reading the whole, wider table.
_POSTGRES_READ_SETTINGS = ("SET LOCAL jit = off", "SET LOCAL random_page_cost = 1.1")

# Group-by names of the wire -> events columns. Only these names ever reach the SQL text.
GROUP_COLUMNS = {"model": "model", "keyId": "key_id", "customId": "custom_id", "userId": "user_id"}


class Bucket(NamedTuple):
    """Totals of the events of one time bucket (and one group, when grouped). A named tuple:
    reports can hold tens of thousands of them."""

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

    def _read(self, sql: str, params: Sequence[Any]) -> list[Row]:
        if self._db.dialect != "postgres":
            return self._db.query(sql, params)
        with self._db.transaction() as cursor:
            for setting in _POSTGRES_READ_SETTINGS:
                cursor.execute(setting)
            cursor.execute(sql, params)
            return cursor.fetchall()

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
        ordered = "".join(f", e.{c}{self._binary()}" for c in columns)
        sql = (
            "SELECT ((e.created_at - %s) / %s) AS bucket, COUNT(*) AS requests, "
            "SUM(e.cost_micros) AS cost, SUM(e.latency_in_ms) AS latency, "
            "SUM(e.prompt_token_count) AS prompt, SUM(e.completion_token_count) AS completion, "
            "SUM(CASE WHEN e.status BETWEEN 200 AND 299 THEN 1 ELSE 0 END) AS successes"
            f"{named} FROM events e{where} GROUP BY 1{groups} ORDER BY 1{ordered}"
        )
        rows = self._read(sql, [selection.start, increment, *params])
        return [_bucket(row, selection.start, increment, group_by) for row in rows]

    def _binary(self) -> str:
        """Text ordered by code point on both backends: PostgreSQL's default collation is not
        (SQLite compares bytes, which for UTF-8 is code point order, as "C" does)."""
        return ' COLLATE "C"' if self._db.dialect == "postgres" else ""

    def latency_percentiles(
        self, selection: EventFilter, fractions: Sequence[float]
    ) -> list[float]:
        """The continuous percentile (PostgreSQL's `percentile_cont`) of latency_in_ms over every
        selected event, for each fraction in [0, 1]; 0.0 when nothing is selected.

        Read as a histogram (one row per distinct latency, hashed in one scan, no sort of the
        events), then interpolated here: the same arithmetic on both backends."""
        where, params = where_clause(self._db, selection)
        rows = self._read(
            f"SELECT e.latency_in_ms AS v, COUNT(*) AS n FROM events e{where} GROUP BY 1 ORDER BY 1",
            params,
        )
        histogram = [(float(row["v"]), int(row["n"])) for row in rows]
        return [percentile_cont(histogram, f) for f in fractions]

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
            f"WHERE {' AND '.join(clauses)} GROUP BY e.key_id "
            f"ORDER BY 2 {direction}, e.key_id{self._binary()}"
        )
        if limit is not None or offset:
            sql += " LIMIT %s OFFSET %s"
            params += [limit if limit is not None else 2**62, offset]
        return [(row["key_id"], int(row["cost"])) for row in self._read(sql, params)]

    def distinct_ids(self, column: str, key_id: str) -> list[str]:
        """The non-empty `user_id`s or `custom_id`s of a key's events, sorted by code point."""
        if column not in ("user_id", "custom_id"):
            raise ValueError(f"not an id column: {column}")
        rows = self._read(
            f"SELECT DISTINCT {column} AS v FROM events WHERE key_id = %s AND {column} <> ''",
            (key_id,),
        )
        return sorted(row["v"] for row in rows)


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
