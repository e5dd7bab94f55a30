"""Key management through the admin API, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.functional.admin_helpers import (
    OPENAI_SECRET,
    create_key,
    create_setting,
    key_count,
    sha256_hex,
)


def test_getting_started_step_5_creates_a_hashed_key(admin):
    setting = create_setting(admin)
    response = admin.put(
        "/api/key-management/keys",
        json={
            "name": "My Secret Key",
            "key": "my-secret-key",
            "tags": ["mykey"],
            "settingIds": [setting["id"]],
            "rateLimitOverTime": 2,
            "rateLimitUnit": "m",
            "costLimitInUsd": 0.25,
        },
    )
    assert response.status_code == 200
    key = response.get_json()
    assert key["key"] == sha256_hex("my-secret-key")
    assert key["name"] == "My Secret Key"
    assert key["tags"] == ["mykey"]
    assert key["settingIds"] == [setting["id"]]
    assert key["rateLimitOverTime"] == 2 and key["rateLimitUnit"] == "m"
    assert key["costLimitInUsd"] == 0.25
    assert key["revoked"] is False
    assert key["createdAt"] > 1_700_000_000 and key["keyId"]
    assert OPENAI_SECRET not in response.get_data(as_text=True)


def test_deprecated_setting_id_and_unhashed_keys(admin):
    setting = create_setting(admin)
    response = admin.put(
        "/api/key-management/keys",
        json={
            "name": "raw",
            "key": "raw-secret",
            "settingId": setting["id"],
            "isKeyNotHashed": True,
        },
    )
    assert response.status_code == 200
    assert response.get_json()["key"] == "raw-secret"
    assert response.get_json()["settingIds"] == [setting["id"]]


def test_get_keys_filters(admin):
    openai = create_setting(admin)
    anthropic = create_setting(admin, provider="anthropic")
    a = create_key(admin, openai["id"], key="k-a", tags=["team-a", "prod"])
    b = create_key(admin, anthropic["id"], key="k-b", tags=["team-b", "prod"])

    def ids(query):
        response = admin.get(f"/api/key-management/keys?{query}")
        assert response.status_code == 200
        return {k["keyId"] for k in response.get_json()}

    assert ids("tag=prod") == {a["keyId"], b["keyId"]}
    assert ids("tags=prod&tags=team-a") == {a["keyId"]}
    assert ids("tags=prod,team-b") == {b["keyId"]}
    assert ids(f"keyIds={b['keyId']}") == {b["keyId"]}
    assert ids("provider=anthropic") == {b["keyId"]}
    assert ids("provider=vllm") == set()


def test_v2_search_paginates_orders_and_counts(admin):
    setting = create_setting(admin)
    made = [create_key(admin, setting["id"], key=f"k{i}", name=f"alpha_{i}") for i in range(5)]
    create_key(admin, setting["id"], key="other", name="beta")
    admin.patch(f"/api/key-management/keys/{made[0]['keyId']}", json={"revoked": True})

    body = {"name": "ALPHA_", "limit": 2, "offset": 1, "order": "asc", "returnCount": True}
    result = admin.post("/api/v2/key-management/keys", json=body).get_json()
    assert result["count"] == 5
    assert [k["keyId"] for k in result["keys"]] == [made[1]["keyId"], made[2]["keyId"]]

    revoked = admin.post("/api/v2/key-management/keys", json={"revoked": True}).get_json()
    assert [k["keyId"] for k in revoked["keys"]] == [made[0]["keyId"]]
    assert "count" not in revoked

    desc = admin.post("/api/v2/key-management/keys", json={"order": "desc", "limit": 1}).get_json()
    assert desc["keys"][0]["name"] == "beta"


def test_patch_is_partial_and_revokes(admin):
    setting = create_setting(admin)
    other = create_setting(admin, name="second")
    key = create_key(admin, setting["id"], rateLimitOverTime=2, rateLimitUnit="m", tags=["x"])
    response = admin.patch(
        f"/api/key-management/keys/{key['keyId']}",
        json={"rateLimitOverTime": 10, "revoked": True, "revokedReason": "leaked",
              "settingIds": [other["id"]]},
    )  # fmt: skip
    assert response.status_code == 200
    updated = response.get_json()
    assert updated["rateLimitOverTime"] == 10 and updated["rateLimitUnit"] == "m"
    assert updated["revoked"] is True and updated["revokedReason"] == "leaked"
    assert updated["settingIds"] == [other["id"]]
    assert updated["tags"] == ["x"] and updated["key"] == key["key"]
    stored = admin.get(f"/api/key-management/keys?keyIds={key['keyId']}").get_json()[0]
    assert stored == updated


def test_delete_key(admin):
    key = create_key(admin, create_setting(admin)["id"])
    assert admin.delete(f"/api/key-management/keys/{key['keyId']}").status_code == 200
    assert admin.get(f"/api/key-management/keys?keyIds={key['keyId']}").get_json() == []
    assert admin.delete(f"/api/key-management/keys/{key['keyId']}").status_code == 404


def test_unknown_key_id_is_404(admin):
    response = admin.patch("/api/key-management/keys/nope", json={"name": "x"})
    assert response.status_code == 404
    assert response.get_json()["type"] == "/errors/not-found"


BAD_CREATES = [
    ("not json", "{bad json", "json"),
    ("name wrong type", {"name": 5}, "name"),
    ("name with NUL", {"name": "a\x00b"}, "name"),
    ("tag with NUL", {"tags": ["ok", "\x00"]}, "tags"),
    ("unknown rate unit", {"rateLimitOverTime": 2, "rateLimitUnit": "w"}, "rateLimitUnit"),
    (
        "unknown cost unit",
        {"costLimitInUsdOverTime": 2, "costLimitInUsdUnit": "y"},
        "costLimitInUsdUnit",
    ),
    ("rate without unit", {"rateLimitOverTime": 2}, "rateLimitUnit"),
    ("unit without rate", {"rateLimitUnit": "m"}, "rateLimitOverTime"),
    ("cost over time without unit", {"costLimitInUsdOverTime": 1.5}, "costLimitInUsdUnit"),
    ("negative cost", {"costLimitInUsd": -1}, "costLimitInUsd"),
    ("negative rate", {"rateLimitOverTime": -3, "rateLimitUnit": "m"}, "rateLimitOverTime"),
    ("string rate", {"rateLimitOverTime": "2", "rateLimitUnit": "m"}, "rateLimitOverTime"),
    ("bad ttl", {"ttl": "3 weeks"}, "ttl"),
    ("unknown setting id", {"settingIds": ["does-not-exist"]}, "settingIds"),
    ("no setting ids", {"settingIds": []}, "settingIds"),
    ("both setting fields", {"settingId": "__SID__"}, "settingIds"),
    ("missing key", {"key": None}, "key"),
    ("bad path method", {"allowedPaths": [{"path": "/x", "method": "FETCH"}]}, "allowedPaths"),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD_CREATES, ids=[c[0] for c in BAD_CREATES])
def test_bad_key_input_is_400_naming_the_field_and_stores_nothing(admin, case, change, field):
    setting = create_setting(admin)
    before = key_count(admin)
    if isinstance(change, str):
        response = admin.put(
            "/api/key-management/keys", data=change, content_type="application/json"
        )
    else:
        body = {"name": "k", "key": "secret-1", "settingIds": [setting["id"]]}
        body.update({k: (setting["id"] if v == "__SID__" else v) for k, v in change.items()})
        body = {k: v for k, v in body.items() if v is not None}
        response = admin.put("/api/key-management/keys", json=body)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()
    assert set(error) == {"type", "title", "status", "detail", "instance"}
    assert error["status"] == 400 and error["instance"] == "/api/key-management/keys"
    assert field.lower() in error["detail"].lower()
    assert key_count(admin) == before


def test_duplicate_key_is_400_and_keeps_the_first(admin):
    setting = create_setting(admin)
    first = create_key(admin, setting["id"], key="same", name="first")
    response = admin.put(
        "/api/key-management/keys",
        json={"name": "second", "key": "same", "settingIds": [setting["id"]]},
    )
    assert response.status_code == 400
    assert "key" in response.get_json()["detail"] and "same" not in response.get_json()["detail"]
    keys = admin.post("/api/v2/key-management/keys", json={}).get_json()["keys"]
    assert [k["name"] for k in keys] == ["first"] and keys[0]["keyId"] == first["keyId"]


def test_patch_validates_the_merged_limits(admin):
    key = create_key(admin, create_setting(admin)["id"])
    response = admin.patch(f"/api/key-management/keys/{key['keyId']}", json={"rateLimitUnit": "h"})
    assert response.status_code == 400 and "rateLimitOverTime" in response.get_json()["detail"]
    response = admin.patch(
        f"/api/key-management/keys/{key['keyId']}", json={"settingIds": ["nope"]}
    )
    assert response.status_code == 400
    assert admin.get(f"/api/key-management/keys?keyIds={key['keyId']}").get_json()[0] == key


@pytest.mark.parametrize("ttl", ["90s", "30m", "24h", "2d", "1h30m"])
def test_ttl_units_are_accepted_and_echoed(admin, ttl):
    key = create_key(admin, create_setting(admin)["id"], ttl=ttl)
    assert key["ttl"] == ttl


@pytest.mark.parametrize(
    ("path", "body"),
    [("/api/key-management/keys", {"rateLimitOverTime": 2**64, "rateLimitUnit": "m"}),
     ("/api/v2/key-management/keys", {"offset": 2**63})],
)  # fmt: skip
def test_integers_beyond_64_bits_are_400_not_500(admin, path, body):
    setting = create_setting(admin)
    if path.endswith("/keys") and "v2" not in path:
        body = {"name": "k", "key": "big", "settingIds": [setting["id"]], **body}
        response = admin.put(path, json=body)
    else:
        response = admin.post(path, json=body)
    assert response.status_code == 400, response.get_json()
