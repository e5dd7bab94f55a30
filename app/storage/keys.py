"""Stores gateway keys; the only place that knows the `keys` table."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from app.domain.entities import Key, Limits, PathConfig
from app.storage.database import (
    Cursor,
    Database,
    Row,
    from_json,
    page_clause,
    placeholders,
    to_json,
)
from app.storage.versioning import bump_config_version, log_change

_COLUMNS = (
    "key_id, name, key, created_at, updated_at, revoked, revoked_reason, tags, setting_ids, "
    "cost_limit_micros, cost_limit_over_time_micros, cost_limit_unit, rate_limit_over_time, "
    "rate_limit_unit, ttl, allowed_paths, should_log_request, should_log_response, "
    "rotation_enabled, policy_id, is_key_not_hashed"
)


@dataclass(frozen=True)
class KeyFilter:
    """Selection of keys for the list endpoints; empty fields select everything."""

    tags: Sequence[str] = ()
    key_ids: Sequence[str] = ()
    setting_ids: Sequence[str] | None = None  # None: any; empty list: matches nothing
    name: str = ""
    revoked: bool | None = None


def limits_from_row(row: Row) -> Limits:
    """The five limit columns keys and users share."""
    return Limits(
        cost_limit_micros=row["cost_limit_micros"],
        cost_limit_over_time_micros=row["cost_limit_over_time_micros"],
        cost_limit_unit=row["cost_limit_unit"],
        rate_limit_over_time=row["rate_limit_over_time"],
        rate_limit_unit=row["rate_limit_unit"],
    )


def limits_values(limits: Limits) -> tuple[Any, ...]:
    """The five limit columns, in the order `limits_from_row` reads them."""
    return (
        limits.cost_limit_micros, limits.cost_limit_over_time_micros, limits.cost_limit_unit,
        limits.rate_limit_over_time, limits.rate_limit_unit,
    )  # fmt: skip


def paths_to_json(paths: Sequence[PathConfig]) -> str:
    return to_json([{"path": p.path, "method": p.method} for p in paths])


def _row_to_key(row: Row) -> Key:
    return Key(
        key_id=row["key_id"],
        name=row["name"],
        key=row["key"],
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
        revoked=bool(row["revoked"]),
        revoked_reason=row["revoked_reason"],
        tags=tuple(from_json(row["tags"], [])),
        setting_ids=tuple(from_json(row["setting_ids"], [])),
        limits=limits_from_row(row),
        ttl=row["ttl"],
        allowed_paths=tuple(PathConfig(**p) for p in from_json(row["allowed_paths"], [])),
        should_log_request=bool(row["should_log_request"]),
        should_log_response=bool(row["should_log_response"]),
        rotation_enabled=bool(row["rotation_enabled"]),
        policy_id=row["policy_id"],
        is_key_not_hashed=bool(row["is_key_not_hashed"]),
    )


def _key_values(key: Key) -> tuple[Any, ...]:
    return (
        key.key_id, key.name, key.key, key.created_at, key.updated_at, key.revoked,
        key.revoked_reason, to_json(list(key.tags)), to_json(list(key.setting_ids)),
        *limits_values(key.limits), key.ttl, paths_to_json(key.allowed_paths),
        key.should_log_request, key.should_log_response, key.rotation_enabled, key.policy_id,
        key.is_key_not_hashed,
    )  # fmt: skip


class KeyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, key: Key) -> Key:
        """Insert; raises UniqueViolation when the secret (or id) is taken."""
        with self._db.transaction() as cursor:
            self._insert(cursor, key)
            bump_config_version(cursor, "key", key.key)
        return key

    def replace(self, key: Key) -> Key:
        """Write every field of an existing key (an update is read, change, replace)."""
        with self._db.transaction() as cursor:
            cursor.execute("SELECT key FROM keys WHERE key_id = %s", (key.key_id,))
            before = [row["key"] for row in cursor.fetchall()]
            assignments = ", ".join(f"{c.strip()} = %s" for c in _COLUMNS.split(","))
            cursor.execute(
                f"UPDATE keys SET {assignments} WHERE key_id = %s", (*_key_values(key), key.key_id)
            )
            seq = bump_config_version(cursor, "key", key.key)
            for old in before:  # a secret that changed: proxies forget the old one
                log_change(cursor, seq, "key", old)
        return key

    def delete(self, key_id: str) -> bool:
        with self._db.transaction() as cursor:
            cursor.execute("DELETE FROM keys WHERE key_id = %s RETURNING key", (key_id,))
            gone = [row["key"] for row in cursor.fetchall()]
            deleted = bool(gone)
            seq = bump_config_version(cursor, "key", gone[0] if gone else "")
            for old in gone[1:]:
                log_change(cursor, seq, "key", old)
        return deleted

    def get(self, key_id: str) -> Key | None:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM keys WHERE key_id = %s", (key_id,))
        return _row_to_key(rows[0]) if rows else None

    def find(
        self, selection: KeyFilter, limit: int | None = None, offset: int = 0, order: str = "asc"
    ) -> list[Key]:
        where, params = self._where(selection)
        direction = "DESC" if order == "desc" else "ASC"
        sql = f"SELECT {_COLUMNS} FROM keys{where} ORDER BY created_at {direction}, key_id {direction}"
        page, page_params = page_clause(self._db.dialect, limit, offset)
        sql, params = sql + page, [*params, *page_params]
        return [_row_to_key(row) for row in self._db.query(sql, params)]

    def count(self, selection: KeyFilter) -> int:
        where, params = self._where(selection)
        return int(self._db.query(f"SELECT COUNT(*) AS n FROM keys{where}", params)[0]["n"])

    def where(self, selection: KeyFilter) -> tuple[str, list[Any]]:
        """` WHERE ...` over the keys table's unqualified columns, and its params (also used
        by reporting to pick the keys whose spend it ranks)."""
        return self._where(selection)

    def _where(self, selection: KeyFilter) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if selection.tags:
            sql, values = self._db.json_contains_all("tags", selection.tags)
            clauses.append(sql)
            params += values
        if selection.key_ids:
            clauses.append(f"key_id IN ({', '.join(['%s'] * len(selection.key_ids))})")
            params += list(selection.key_ids)
        if selection.setting_ids is not None:
            if not selection.setting_ids:
                clauses.append("1 = 0")
            else:
                sql, values = self._db.json_contains_any("setting_ids", selection.setting_ids)
                clauses.append(sql)
                params += values
        if selection.name:
            clauses.append("LOWER(name) LIKE %s ESCAPE '!'")
            params.append("%" + _escape_like(selection.name.lower()) + "%")
        if selection.revoked is not None:
            clauses.append("revoked = %s")
            params.append(selection.revoked)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    @staticmethod
    def _insert(cursor: Cursor, key: Key) -> None:
        marks = ", ".join(["%s"] * 21)
        cursor.execute(f"INSERT INTO keys ({_COLUMNS}) VALUES ({marks})", _key_values(key))


def _escape_like(text: str) -> str:
    """A user's `%` and `_` match themselves in the substring search."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


# The compact form the proxy holds a million keys in: the stored key column, whether it is a raw
# secret, and the other columns as one compact JSON array built by the database (about 130 bytes;
# a Key object takes ~900), parsed only when a request presents the key. Building it in SQL keeps the
# load to three values a row on the Python side: a million keys load in seconds.
_COMPACT_FIELDS = (
    "key_id", "name", "created_at", "updated_at", "revoked", "revoked_reason", "tags",
    "setting_ids", "cost_limit_micros", "cost_limit_over_time_micros", "cost_limit_unit",
    "rate_limit_over_time", "rate_limit_unit", "ttl", "allowed_paths", "should_log_request",
    "should_log_response", "rotation_enabled", "policy_id", "is_key_not_hashed",
)  # fmt: skip
_JSON_FIELDS = frozenset({"tags", "setting_ids", "allowed_paths"})
CompactKey = tuple[str, bool, bytes]  # (key column, is_key_not_hashed, packed)


def _compact_select(dialect: str) -> str:
    if dialect == "postgres":  # json_build_array would put a space after every comma
        items = [f"COALESCE(to_json({c})::text, 'null')" for c in _COMPACT_FIELDS]
        packed = f"'[' || concat_ws(',', {', '.join(items)}) || ']'"
    else:  # SQLite keeps JSON columns as text: json() embeds them as arrays, not strings
        values = [f"json({c})" if c in _JSON_FIELDS else c for c in _COMPACT_FIELDS]
        packed = f"json_array({', '.join(values)})"
    return f"SELECT key, is_key_not_hashed, {packed} AS packed FROM keys"


def _compact(row: Row) -> CompactKey:
    return row["key"], bool(row["is_key_not_hashed"]), row["packed"].encode()


@functools.lru_cache(maxsize=8192)
def unpack_key(stored_key: str, packed: bytes) -> Key:
    """The Key a compact entry stands for; the keys in use are unpacked once, not per request
    (a changed key is another packed value, so a cached one is never stale)."""
    v = orjson.loads(packed)
    return Key(
        key_id=v[0], name=v[1], key=stored_key, created_at=int(v[2]), updated_at=int(v[3]),
        revoked=bool(v[4]), revoked_reason=v[5], tags=tuple(v[6]), setting_ids=tuple(v[7]),
        limits=Limits(v[8], v[9], v[10], v[11], v[12]), ttl=v[13],
        allowed_paths=tuple(PathConfig(**p) for p in v[14]),
        should_log_request=bool(v[15]), should_log_response=bool(v[16]),
        rotation_enabled=bool(v[17]), policy_id=v[18], is_key_not_hashed=bool(v[19]),
    )  # fmt: skip


class CompactKeyReader:
    """Reads keys in the compact form: the whole table in pages (keyset order on the unique key
    column, so a page is one index range) or the rows of given key columns."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._select = _compact_select(db.dialect)

    def page(self, after: str | None, limit: int) -> list[CompactKey]:
        params: list[Any] = [limit]
        sql = f"{self._select} ORDER BY key LIMIT %s"
        if after is not None:
            sql, params = f"{self._select} WHERE key > %s ORDER BY key LIMIT %s", [after, limit]
        return [_compact(row) for row in self._db.query(sql, params)]

    def by_key_columns(self, values: Sequence[str]) -> list[CompactKey]:
        """One indexed query (an IN list on the unique key column) per 500 values."""
        found: list[CompactKey] = []
        unique = sorted(set(values))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            sql = f"{self._select} WHERE key IN ({placeholders(len(chunk))})"
            found += [_compact(row) for row in self._db.query(sql, chunk)]
        return found
