"""The users API through the admin app, on SQLite and PostgreSQL, as a client would use it."""

from __future__ import annotations

import pytest

from app.storage.users import UserRepository
from app.storage.versioning import current_config_version


def create(admin, **body):
    response = admin.post("/api/users", json={"name": "spike", **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_create_answers_the_documented_user(admin):
    body = {
        "name": "spike", "userId": "u-1", "tags": ["org-2", "org-1", "org-2"], "keyIds": ["k1"],
        "costLimitInUsd": 5.5, "costLimitInUsdOverTime": 2, "costLimitInUsdUnit": "d",
        "rateLimitOverTime": 3, "rateLimitUnit": "m", "ttl": "24h",
        "allowedPaths": [{"path": "/api/providers/openai/v1/chat/completions", "method": "POST"}],
        "allowedModels": ["gpt-4o"],
    }  # fmt: skip
    user = admin.post("/api/users", json=body).get_json()
    assert user["id"] and user["createdAt"] == user["updatedAt"] > 0
    assert {k: v for k, v in user.items() if k not in ("id", "createdAt", "updatedAt")} == {
        "name": "spike", "userId": "u-1", "tags": ["org-1", "org-2"], "keyIds": ["k1"],
        "revoked": False, "revokedReason": "", "costLimitInUsd": 5.5,
        "costLimitInUsdOverTime": 2.0, "costLimitInUsdUnit": "d", "rateLimitOverTime": 3,
        "rateLimitUnit": "m", "ttl": "24h",
        "allowedPaths": [{"path": "/api/providers/openai/v1/chat/completions", "method": "POST"}],
        "allowedModels": ["gpt-4o"],
    }  # fmt: skip
    assert admin.get("/api/users").get_json() == [user]


def test_user_id_and_tags_are_unique_together(admin):
    create(admin, userId="u-1", tags=["a", "b"])
    duplicate = admin.post("/api/users", json={"name": "x", "userId": "u-1", "tags": ["b", "a"]})
    assert duplicate.status_code == 400
    assert duplicate.get_json()["detail"].startswith("userId: ")
    create(admin, userId="u-1", tags=["a"])
    create(admin, userId="u-2", tags=["a", "b"])
    assert len(admin.get("/api/users").get_json()) == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": 7}, "name"),
        ({"name": "n", "costLimitInUsd": -1}, "costLimitInUsd"),
        ({"name": "n", "rateLimitOverTime": 2}, "rateLimitUnit"),
        ({"name": "n", "costLimitInUsdUnit": "d"}, "costLimitInUsdOverTime"),
        ({"name": "n", "rateLimitOverTime": 1, "rateLimitUnit": "y"}, "rateLimitUnit"),
        ({"name": "n", "ttl": "soon"}, "ttl"),
        ({"name": "n", "tags": "a"}, "tags"),
        ({"name": "n", "userId": "a\x00b"}, "userId"),
        ({"name": "n", "allowedPaths": [{"path": "/x"}]}, "allowedPaths.0.method"),
    ],
)
def test_bad_users_are_400_naming_the_field_and_nothing_is_stored(admin, body, field):
    response = admin.post("/api/users", json=body)
    assert response.status_code == 400
    error = response.get_json()
    assert error["type"] == "/errors/validation" and error["instance"] == "/api/users"
    assert field in error["detail"]
    assert admin.get("/api/users").get_json() == []


def test_patch_by_id_is_partial_and_checks_the_merged_limits(admin, database):
    user = create(admin, userId="u-1", rateLimitOverTime=2, rateLimitUnit="m")
    version = current_config_version(database)
    changed = admin.patch(f"/api/users/{user['id']}", json={"revoked": True, "revokedReason": "x",
                                                          "costLimitInUsd": 1.25})  # fmt: skip
    assert changed.status_code == 200
    body = changed.get_json()
    assert body["revoked"] is True and body["revokedReason"] == "x"
    assert body["costLimitInUsd"] == 1.25 and body["rateLimitOverTime"] == 2
    assert body["name"] == "spike" and body["userId"] == "u-1"
    assert current_config_version(database) == version + 1
    half = admin.patch(f"/api/users/{user['id']}", json={"rateLimitUnit": None})
    assert half.status_code == 400 and half.get_json()["detail"].startswith(
        "rateLimitUnit: required"
    )
    assert admin.patch("/api/users/nobody", json={"name": "x"}).status_code == 404


def test_patch_by_user_id_and_tags_finds_exactly_that_user(admin):
    both = create(admin, userId="u-1", tags=["a", "b"])
    only_a = create(admin, userId="u-1", tags=["a"])
    response = admin.patch("/api/users?userId=u-1&tags=b,a", json={"name": "renamed"})
    assert response.status_code == 200 and response.get_json()["id"] == both["id"]
    response = admin.patch("/api/users?userId=u-1&tags=a", json={"allowedModels": ["m"]})
    assert response.get_json()["id"] == only_a["id"]
    names = {u["id"]: (u["name"], u["allowedModels"]) for u in admin.get("/api/users").get_json()}
    assert names == {both["id"]: ("renamed", []), only_a["id"]: ("spike", ["m"])}
    missing = admin.patch("/api/users?userId=u-1&tags=c", json={"name": "x"})
    assert missing.status_code == 404 and missing.get_json()["type"] == "/errors/not-found"


def test_list_by_user_ids_tags_key_ids_with_offset_and_limit(admin):
    u1 = create(admin, userId="u-1", tags=["t1", "t2"], keyIds=["k1"])
    u2 = create(admin, userId="u-2", tags=["t1"], keyIds=["k2", "k3"])
    u3 = create(admin, userId="u-3", tags=[], keyIds=[])

    def ids(query: str) -> list[str]:
        response = admin.get(f"/api/users?{query}")
        assert response.status_code == 200, response.get_json()
        return [u["id"] for u in response.get_json()]

    assert ids("") == [u1["id"], u2["id"], u3["id"]]
    assert ids("userIds=u-1&userIds=u-3") == [u1["id"], u3["id"]]
    assert ids("userIds=u-2,u-3") == [u2["id"], u3["id"]]
    assert ids("tags=t1") == [u1["id"], u2["id"]]
    assert ids("tags=t1,t2") == [u1["id"]]
    assert ids("keyIds=k3,k1") == [u1["id"], u2["id"]]
    assert ids("offset=1") == [u2["id"], u3["id"]]
    assert ids("offset=1&limit=1") == [u2["id"]]
    assert admin.get("/api/users?limit=0").status_code == 400
    assert admin.get("/api/users?offset=-1").status_code == 400


def test_every_write_is_what_the_proxy_snapshot_loads(admin, database):
    before = current_config_version(database)
    user = create(admin, userId="u-9", tags=["x"], costLimitInUsd=3)
    assert current_config_version(database) == before + 1
    [stored] = UserRepository(database).all()
    assert stored.id == user["id"] and stored.user_id == "u-9" and stored.tags == ("x",)
    assert stored.limits.cost_limit_micros == 3_000_000
