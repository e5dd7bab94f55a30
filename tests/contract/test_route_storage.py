"""Route storage on SQLite and PostgreSQL: round trip, unique paths, delete, config versioning."""

from __future__ import annotations

import dataclasses

import pytest

from app.domain.routes import CacheConfig, Route, RouteStep
from app.storage.database import UniqueViolation
from app.storage.routes import RouteRepository
from app.storage.versioning import current_config_version


def _route(route_id="r1", path="/prod/chat", **changes):
    route = Route(
        id=route_id, name="prod", path=path, created_at=5, updated_at=5,
        steps=(
            RouteStep("azure", "gpt-4o", retries=2, params={"deploymentId": "d", "apiVersion": "v"},
                      timeout="5s", retry_interval="250ms",
                      request_params={"temperature": 0.2, "stop": ["x"]}),
            RouteStep("openai", "gpt-4o-mini"),
        ),
        key_ids=("k1", "k2"),
        cache_config=CacheConfig(enabled=True, ttl="1h", share_across_keys=True),
        retry_strategy="exponential", request_format="openai_chat_completion",
    )  # fmt: skip
    return dataclasses.replace(route, **changes)


def test_round_trip_by_id_and_path_in_creation_order(database):
    repo = RouteRepository(database)
    first = repo.create(_route())
    second = repo.create(_route("r2", "/other", created_at=6, cache_config=CacheConfig()))
    assert repo.get("r1") == first and repo.by_path("/other") == second
    assert repo.get("nope") is None and repo.by_path("/nope") is None
    assert [r.id for r in repo.all()] == ["r1", "r2"]
    assert repo.get("r1").steps[0].request_params == {"temperature": 0.2, "stop": ["x"]}


def test_paths_are_unique(database):
    repo = RouteRepository(database)
    repo.create(_route())
    with pytest.raises(UniqueViolation):
        repo.create(_route("r2"))
    assert [r.id for r in repo.all()] == ["r1"]


def test_create_and_delete_bump_the_config_version(database):
    repo = RouteRepository(database)
    start = current_config_version(database)
    repo.create(_route())
    assert current_config_version(database) == start + 1
    assert repo.delete("r1") is True
    assert current_config_version(database) == start + 2
    assert repo.get("r1") is None
    assert repo.delete("r1") is False
