"""Failover routes: validate a definition (its own rules, then the keys it names), store it.

Storing bumps the configuration version (in the repository), so every proxy reloads its snapshot
within IN_MEMORY_DB_UPDATE_INTERVAL. Nothing is stored when any rule fails; the 400 names every
offending field.
"""

from __future__ import annotations

from typing import Any

from app.domain.routes import (
    Route,
    cache_from_dict,
    cache_to_dict,
    route_errors,
    step_from_dict,
    step_to_dict,
    uncovered_providers,
)
from app.errors import BadRequest, NotFound
from app.services.clock import new_id, now_s
from app.storage.database import UniqueViolation
from app.storage.keys import KeyFilter, KeyRepository
from app.storage.provider_settings import ProviderSettingRepository
from app.storage.routes import RouteRepository


class RouteService:
    def __init__(
        self, routes: RouteRepository, keys: KeyRepository, settings: ProviderSettingRepository
    ) -> None:
        self._routes = routes
        self._keys = keys
        self._settings = settings

    def create(self, data: dict[str, Any]) -> Route:
        errors = route_errors(data)
        if errors:
            raise BadRequest("; ".join(errors))
        now = now_s()
        route = Route(
            id=new_id(),
            name=data["name"],
            path=data["path"],
            created_at=now,
            updated_at=now,
            steps=tuple(step_from_dict(step) for step in data["steps"]),
            key_ids=tuple(dict.fromkeys(data["keyIds"])),
            cache_config=cache_from_dict(data["cacheConfig"]),
            retry_strategy=data.get("retryStrategy") or "",
            request_format=data.get("requestFormat") or "",
        )
        self._check_keys(route)
        if self._routes.by_path(route.path) is not None:
            raise BadRequest(f"path: a route with path {route.path!r} already exists")
        try:
            return self._routes.create(route)
        except UniqueViolation as exc:  # a concurrent create took the path between check and insert
            raise BadRequest(f"path: a route with path {route.path!r} already exists") from exc

    def get(self, route_id: str) -> Route:
        route = self._routes.get(route_id)
        if route is None:
            raise NotFound(f"route {route_id} does not exist")
        return route

    def all(self) -> list[Route]:
        return self._routes.all()

    def delete(self, route_id: str) -> Route:
        route = self.get(route_id)
        if not self._routes.delete(route_id):
            raise NotFound(f"route {route_id} does not exist")
        return route

    def _check_keys(self, route: Route) -> None:
        """Every key exists, and its provider settings cover every step's provider (a step whose
        provider the key has no setting for could never be called with that key)."""
        keys = self._keys.find(KeyFilter(key_ids=list(route.key_ids)))
        missing = sorted(set(route.key_ids) - {k.key_id for k in keys})
        if missing:
            raise BadRequest(f"keyIds: unknown key id(s): {', '.join(missing)}")
        problems = []
        for key in keys:
            providers = [s.provider for s in self._settings.get_many(list(key.setting_ids))]
            uncovered = uncovered_providers(route.providers, providers)
            if uncovered:
                problems.append(
                    f"keyIds: key {key.key_id} has no provider setting for {', '.join(uncovered)}"
                )
        if problems:
            raise BadRequest("; ".join(problems))


def route_to_wire(route: Route) -> dict[str, Any]:
    return {
        "id": route.id,
        "createdAt": route.created_at,
        "updatedAt": route.updated_at,
        "name": route.name,
        "path": route.path,
        "retryStrategy": route.retry_strategy,
        "requestFormat": route.request_format,
        "steps": [step_to_dict(step) for step in route.steps],
        "keyIds": list(route.key_ids),
        "cacheConfig": cache_to_dict(route.cache_config),
    }
