"""Stores users; the only place that knows the `users` table. Every write bumps the config version,
because the proxy serves users from its in-memory snapshot (`all()`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.entities import PathConfig, User
from app.storage.database import Database, Row, from_json, page_clause, placeholders, to_json
from app.storage.keys import limits_from_row, limits_values, paths_to_json
from app.storage.versioning import bump_config_version

_COLUMN_NAMES = (
    "id", "user_id", "name", "created_at", "updated_at", "tags", "key_ids", "revoked",
    "revoked_reason", "cost_limit_micros", "cost_limit_over_time_micros", "cost_limit_unit",
    "rate_limit_over_time", "rate_limit_unit", "ttl", "allowed_paths", "allowed_models",
)  # fmt: skip
_COLUMNS = ", ".join(_COLUMN_NAMES)


@dataclass(frozen=True)
class UserFilter:
    """Selection for `GET /api/users`; empty fields select everything."""

    user_ids: Sequence[str] = ()
    tags: Sequence[str] = ()  # the user carries every one of them
    key_ids: Sequence[str] = ()  # the user lists at least one of them


def _row_to_user(row: Row) -> User:
    return User(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
        tags=tuple(from_json(row["tags"], [])),
        key_ids=tuple(from_json(row["key_ids"], [])),
        revoked=bool(row["revoked"]),
        revoked_reason=row["revoked_reason"],
        limits=limits_from_row(row),
        ttl=row["ttl"],
        allowed_paths=tuple(PathConfig(**p) for p in from_json(row["allowed_paths"], [])),
        allowed_models=tuple(from_json(row["allowed_models"], [])),
    )


def _values(user: User) -> tuple[Any, ...]:
    return (
        user.id, user.user_id, user.name, user.created_at, user.updated_at,
        to_json(list(user.tags)), to_json(list(user.key_ids)), user.revoked, user.revoked_reason,
        *limits_values(user.limits), user.ttl, paths_to_json(user.allowed_paths),
        to_json(list(user.allowed_models)),
    )  # fmt: skip


class UserRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, user: User) -> User:
        """Insert; raises UniqueViolation when (user_id, tags) or the id is taken."""
        with self._db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO users ({_COLUMNS}) VALUES ({placeholders(len(_COLUMN_NAMES))})",
                _values(user),
            )
            bump_config_version(cursor, "user", user.id)
        return user

    def replace(self, user: User) -> User:
        """Write every field of an existing user (an update is read, change, replace)."""
        assignments = ", ".join(f"{c} = %s" for c in _COLUMN_NAMES)
        with self._db.transaction() as cursor:
            cursor.execute(
                f"UPDATE users SET {assignments} WHERE id = %s", (*_values(user), user.id)
            )
            bump_config_version(cursor, "user", user.id)
        return user

    def get(self, user_id: str) -> User | None:
        """By the user object's `id` (not the client-defined `userId`)."""
        rows = self._db.query(f"SELECT {_COLUMNS} FROM users WHERE id = %s", (user_id,))
        return _row_to_user(rows[0]) if rows else None

    def get_many(self, ids: Sequence[str]) -> list[User]:
        """By the users' `id`s (what the change log names); missing ones are left out."""
        if not ids:
            return []
        rows = self._db.query(
            f"SELECT {_COLUMNS} FROM users WHERE id IN ({placeholders(len(ids))})", list(ids)
        )
        return [_row_to_user(row) for row in rows]

    def get_by_identity(self, user_id: str, tags: Sequence[str]) -> User | None:
        """The one user with exactly this userId and tag set (tags given sorted, unique)."""
        rows = self._db.query(
            f"SELECT {_COLUMNS} FROM users WHERE user_id = %s AND tags = %s",
            (user_id, to_json(list(tags))),
        )
        return _row_to_user(rows[0]) if rows else None

    def find(self, selection: UserFilter, limit: int | None = None, offset: int = 0) -> list[User]:
        """Matching users in creation order."""
        where, params = self._where(selection)
        sql = f"SELECT {_COLUMNS} FROM users{where} ORDER BY created_at, id"
        page, page_params = page_clause(self._db.dialect, limit, offset)
        sql, params = sql + page, [*params, *page_params]
        return [_row_to_user(row) for row in self._db.query(sql, params)]

    def all(self) -> list[User]:
        """Every user: what the proxy's snapshot loads."""
        return self.find(UserFilter())

    find_all = all

    def _where(self, selection: UserFilter) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if selection.user_ids:
            clauses.append(f"user_id IN ({placeholders(len(selection.user_ids))})")
            params += list(selection.user_ids)
        if selection.tags:
            sql, values = self._db.json_contains_all("tags", selection.tags)
            clauses.append(sql)
            params += values
        if selection.key_ids:
            sql, values = self._db.json_contains_any("key_ids", selection.key_ids)
            clauses.append(sql)
            params += values
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
