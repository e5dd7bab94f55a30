"""Custom provider storage on SQLite and PostgreSQL: round trip, unique names, updates, versioning."""

from __future__ import annotations

import dataclasses

import pytest

from app.domain.entities import CustomProvider
from app.storage.database import UniqueViolation
from app.storage.provider_settings import CustomProviderRepository
from app.storage.versioning import current_config_version

ROUTE = {"path": "/chat", "target_url": "http://127.0.0.1:9/chat", "model_location": "model",
         "request_prompt_location": "messages.#.content", "stream_max_empty_messages": 3,
         "response_completion_location": "choices.#.message.content"}  # fmt: skip


def _provider(provider_id="c1", name="bricks", **changes):
    provider = CustomProvider(id=provider_id, provider=name, created_at=5, updated_at=5,
                              route_configs=(ROUTE,), authentication_param="apikey")  # fmt: skip
    return dataclasses.replace(provider, **changes)


def test_round_trip_by_id_and_name_in_creation_order(database):
    repo = CustomProviderRepository(database)
    first = repo.create(_provider())
    second = repo.create(_provider("c2", "other", created_at=6, authentication_param=""))
    assert repo.get("c1") == first and repo.by_name("other") == second
    assert repo.get("nope") is None and repo.by_name("nope") is None
    assert repo.all() == [first, second]
    assert repo.get("c1").route_configs == (ROUTE,)


def test_names_are_unique(database):
    repo = CustomProviderRepository(database)
    repo.create(_provider())
    with pytest.raises(UniqueViolation):
        repo.create(_provider("c2"))
    assert [p.id for p in repo.all()] == ["c1"]


def test_replace_changes_routes_and_header_and_bumps_the_version(database):
    repo = CustomProviderRepository(database)
    repo.create(_provider())
    version = current_config_version(database)
    new_routes = (ROUTE, {**ROUTE, "path": "/embed"})
    repo.replace(_provider(updated_at=9, route_configs=new_routes, authentication_param="x-key"))
    stored = repo.get("c1")
    assert stored.route_configs == new_routes and stored.authentication_param == "x-key"
    assert stored.updated_at == 9 and stored.created_at == 5 and stored.provider == "bricks"
    assert current_config_version(database) == version + 1
