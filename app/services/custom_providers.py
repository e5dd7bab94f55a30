"""Custom providers: validate a definition (create, or a PATCH merged into the stored one), store it.

Storing bumps the configuration version (in the repository), so proxies reload their snapshot.
Nothing is stored when any rule fails; the 400 names every offending field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from app.domain.custom_providers import (
    authentication_param_error,
    complete_route_config,
    merge_route_configs,
    name_error,
    normalize_name,
    route_configs_errors,
)
from app.domain.entities import CustomProvider
from app.errors import BadRequest, NotFound
from app.providers.catalog import BUILTIN_PROVIDERS
from app.services.clock import new_id, now_s
from app.storage.database import UniqueViolation
from app.storage.provider_settings import CustomProviderRepository


class CustomProviderService:
    def __init__(self, providers: CustomProviderRepository) -> None:
        self._providers = providers

    def create(self, data: dict[str, Any]) -> CustomProvider:
        name = normalize_name(data["provider"])
        # BricksLLM lower-cases the header name too; header names are case-insensitive anyway.
        param = data.get("authentication_param", "").lower()
        routes = list(data["route_configs"])
        _check([name_error(name, BUILTIN_PROVIDERS), authentication_param_error(param)], routes)
        if self._providers.by_name(name) is not None:
            raise BadRequest(f"provider: a custom provider named {name!r} already exists")
        now = now_s()
        provider = CustomProvider(
            id=new_id(),
            provider=name,
            created_at=now,
            updated_at=now,
            route_configs=tuple(complete_route_config(route) for route in routes),
            authentication_param=param,
        )
        try:
            return self._providers.create(provider)
        except UniqueViolation as exc:  # a concurrent create took the name between check and insert
            raise BadRequest(f"provider: a custom provider named {name!r} already exists") from exc

    def update(self, provider_id: str, data: dict[str, Any]) -> CustomProvider:
        current = self._providers.get(provider_id)
        if current is None:
            raise NotFound(f"custom provider {provider_id} does not exist")
        param = current.authentication_param
        if "authentication_param" in data:
            param = (data["authentication_param"] or "").lower()
        routes = merge_route_configs(current.route_configs, data.get("route_configs", []))
        _check([authentication_param_error(param)], routes)
        updated = dataclasses.replace(
            current,
            updated_at=now_s(),
            route_configs=tuple(complete_route_config(route) for route in routes),
            authentication_param=param,
        )
        return self._providers.replace(updated)

    def all(self) -> list[CustomProvider]:
        return self._providers.all()


def _check(problems: list[str | None], routes: Sequence[dict[str, Any]]) -> None:
    errors = [p for p in problems if p] + route_configs_errors(routes)
    if errors:
        raise BadRequest("; ".join(errors))


def custom_provider_to_wire(provider: CustomProvider) -> dict[str, Any]:
    return {
        "id": provider.id,
        "created_at": provider.created_at,
        "updated_at": provider.updated_at,
        "provider": provider.provider,
        "route_configs": [complete_route_config(route) for route in provider.route_configs],
        "authentication_param": provider.authentication_param,
    }
