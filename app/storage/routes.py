"""Stores failover routes; the only place that knows the `routes` table.

Steps and the cache config are JSON columns in their wire form (camelCase). Every write bumps the
configuration version, so proxies reload their snapshot and see the change.
"""

from __future__ import annotations

from typing import Any

from app.domain.routes import (
    Route,
    cache_from_dict,
    cache_to_dict,
    step_from_dict,
    step_to_dict,
)
from app.storage.database import Database, Row, from_json, placeholders, to_json
from app.storage.versioning import bump_config_version

_COLUMNS = (
    "id, name, path, created_at, updated_at, steps, key_ids, cache_config, retry_strategy, "
    "request_format"
)


def _row_to_route(row: Row) -> Route:
    return Route(
        id=row["id"],
        name=row["name"],
        path=row["path"],
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
        steps=tuple(step_from_dict(s) for s in from_json(row["steps"], [])),
        key_ids=tuple(from_json(row["key_ids"], [])),
        cache_config=cache_from_dict(from_json(row["cache_config"])),
        retry_strategy=row["retry_strategy"],
        request_format=row["request_format"],
    )


def _values(route: Route) -> tuple[Any, ...]:
    return (
        route.id, route.name, route.path, route.created_at, route.updated_at,
        to_json([step_to_dict(s) for s in route.steps]), to_json(list(route.key_ids)),
        to_json(cache_to_dict(route.cache_config)), route.retry_strategy, route.request_format,
    )  # fmt: skip


class RouteRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, route: Route) -> Route:
        """Insert; raises UniqueViolation when the path (or id) is taken."""
        with self._db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO routes ({_COLUMNS}) VALUES ({placeholders(10)})", _values(route)
            )
            bump_config_version(cursor)
        return route

    def delete(self, route_id: str) -> bool:
        with self._db.transaction() as cursor:
            cursor.execute("DELETE FROM routes WHERE id = %s", (route_id,))
            deleted = cursor.rowcount > 0
            bump_config_version(cursor)
        return deleted

    def get(self, route_id: str) -> Route | None:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM routes WHERE id = %s", (route_id,))
        return _row_to_route(rows[0]) if rows else None

    def by_path(self, path: str) -> Route | None:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM routes WHERE path = %s", (path,))
        return _row_to_route(rows[0]) if rows else None

    def all(self) -> list[Route]:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM routes ORDER BY created_at, id")
        return [_row_to_route(row) for row in rows]
