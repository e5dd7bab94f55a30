"""Failover routes through the admin API: create, get, list, delete, the OpenAPI example, every
invalid definition refused with a 400 naming the field, and the proxy snapshot seeing changes."""

from __future__ import annotations

import copy

import pytest

from app.proxy.snapshot import load_snapshot
from app.storage.versioning import current_config_version
from schemas.routes import CREATE_EXAMPLE
from tests.functional.admin_helpers import create_key, create_setting


@pytest.fixture
def key_ids(admin):
    """A key with openai and azure settings, and one with openai only."""
    openai = create_setting(admin)
    azure = create_setting(admin, "azure", {"apikey": "az", "resourceName": "res"})
    both = create_key(admin, openai["id"], key="both-key")
    admin.patch(f"/api/key-management/keys/{both['keyId']}",
                json={"settingIds": [openai["id"], azure["id"]]})  # fmt: skip
    only_openai = create_key(admin, openai["id"], key="openai-key")
    return {"both": both["keyId"], "openai": only_openai["keyId"]}


def route_body(key_id, **overrides):
    body = {
        "name": "prod",
        "path": "/prod/chat",
        "steps": [
            {"provider": "azure", "model": "gpt-4o", "retries": 2, "timeout": "5s",
             "params": {"deploymentId": "d1", "apiVersion": "2024-06-01"}},
            {"provider": "openai", "model": "gpt-4o-mini", "retryInterval": "250ms",
             "requestParams": {"temperature": 0.3, "stop": ["END"], "logit_bias": {"50256": -100}}},
        ],
        "keyIds": [key_id],
        "cacheConfig": {"enabled": True},
    }  # fmt: skip
    body.update(overrides)
    return body


def create(admin, body):
    response = admin.post("/api/routes", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_create_answers_the_route_with_defaults_and_get_list_delete_agree(admin, key_ids, database):
    version = current_config_version(database)
    route = create(admin, route_body(key_ids["both"], retryStrategy="exponential"))
    assert route["id"] and route["createdAt"] == route["updatedAt"] > 1_700_000_000
    assert route["retryStrategy"] == "exponential" and route["requestFormat"] == ""
    assert route["cacheConfig"] == {"enabled": True, "ttl": "168h", "shareAcrossKeys": False}
    azure, openai = route["steps"]
    assert azure == {"provider": "azure", "model": "gpt-4o", "retries": 2, "timeout": "5s",
                     "params": {"deploymentId": "d1", "apiVersion": "2024-06-01"},
                     "retryInterval": "", "requestParams": {}}  # fmt: skip
    assert openai["timeout"] == "5m" and openai["retryInterval"] == "250ms"
    assert openai["requestParams"] == {"temperature": 0.3, "stop": ["END"],
                                       "logit_bias": {"50256": -100}}  # fmt: skip
    assert current_config_version(database) > version
    assert admin.get(f"/api/routes/{route['id']}").get_json() == route
    assert admin.get("/api/routes").get_json() == [route]
    deleted = admin.delete(f"/api/routes/{route['id']}")
    assert deleted.status_code == 200 and deleted.get_json() == route
    assert admin.get(f"/api/routes/{route['id']}").status_code == 404
    assert admin.get("/api/routes").get_json() == []


def test_unknown_ids_are_404_in_the_admin_error_shape(admin):
    for response in (admin.get("/api/routes/nope"), admin.delete("/api/routes/nope")):
        assert response.status_code == 404
        body = response.get_json()
        assert body["type"] == "/errors/not-found" and body["instance"] == "/api/routes/nope"


def test_the_openapi_create_example_works(admin, key_ids):
    spec = admin.get("/api/openapi.json").get_json()
    post = spec["paths"]["/api/routes"]["post"]
    example = post["requestBody"]["content"]["application/json"]["example"]
    assert example == CREATE_EXAMPLE
    assert "example" in post["responses"]["200"]["content"]["application/json"]
    body = {**copy.deepcopy(example), "keyIds": [key_ids["both"]]}
    route = create(admin, body)
    assert route["steps"][1]["requestParams"] == {"temperature": 0.2, "max_tokens": 512}


def _step(**fields):
    return {"provider": "openai", "model": "gpt-4o", **fields}


INVALID = [
    ({"name": ""}, "name"),
    ({"path": "prod"}, "path: must start with '/'"),
    ({"path": "/a b"}, "path"),
    ({"steps": []}, "steps: at least one step"),
    ({"steps": [{"model": "gpt-4o"}]}, "steps.0.provider"),
    ({"steps": [_step(provider="anthropic")]}, "steps.0.provider: must be one of"),
    ({"steps": [_step(model="")]}, "steps.0.model"),
    ({"steps": [_step(provider="azure", params={"apiVersion": "v"})]},
     "steps.0.params.deploymentId"),
    ({"steps": [_step(provider="azure", params={"deploymentId": "d"})]},
     "steps.0.params.apiVersion"),
    ({"steps": [_step(timeout="soon")]}, "steps.0.timeout"),
    ({"steps": [_step(timeout="0s")]}, "steps.0.timeout"),
    ({"steps": [_step(retryInterval="1 sec")]}, "steps.0.retryInterval"),
    ({"steps": [_step(retries=-1)]}, "steps.0.retries"),
    ({"steps": [_step(retries="2")]}, "steps.0.retries"),
    ({"steps": [_step(requestParams={"temperature": "hot"})]},
     "steps.0.requestParams.temperature"),
    ({"steps": [_step(requestParams={"max_tokens": 1.5})]}, "steps.0.requestParams.max_tokens"),
    ({"steps": [_step(requestParams={"stop": [1]})]}, "steps.0.requestParams.stop"),
    ({"steps": [_step(requestParams={"logprobs": 1})]}, "steps.0.requestParams.logprobs"),
    ({"steps": [_step(requestParams={"logit_bias": {"1": "x"}})]},
     "steps.0.requestParams.logit_bias"),
    ({"steps": [_step(requestParams={"temprature": 1})]}, "steps.0.requestParams.temprature"),
    ({"retryStrategy": "linear"}, "retryStrategy"),
    ({"requestFormat": "anthropic"}, "requestFormat"),
    ({"cacheConfig": {"enabled": True, "ttl": "721h"}}, "cacheConfig.ttl: at most 720h"),
    ({"cacheConfig": {"enabled": True, "ttl": "week"}}, "cacheConfig.ttl"),
    ({"cacheConfig": {"ttl": "1h"}}, "cacheConfig.enabled"),
    ({"cacheConfig": None}, "cacheConfig"),
    ({"keyIds": []}, "keyIds"),
    ({"keyIds": ["missing-key"]}, "keyIds: unknown key id(s): missing-key"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "named"), INVALID)
def test_invalid_routes_are_400_naming_the_field(admin, key_ids, overrides, named):
    response = admin.post("/api/routes", json=route_body(key_ids["both"], **overrides))
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["type"] == "/errors/validation" and body["instance"] == "/api/routes"
    assert named in body["detail"]
    assert admin.get("/api/routes").get_json() == []


def test_missing_required_fields_and_non_object_bodies_are_400(admin):
    response = admin.post("/api/routes", json={})
    detail = response.get_json()["detail"]
    assert response.status_code == 400
    for name in ("name", "path", "steps", "keyIds", "cacheConfig"):
        assert name in detail
    assert admin.post("/api/routes", json=[1]).status_code == 400
    assert admin.post("/api/routes", data="{not json").status_code == 400


def test_a_key_without_a_setting_for_a_step_provider_is_refused(admin, key_ids):
    response = admin.post("/api/routes", json=route_body(key_ids["openai"]))
    assert response.status_code == 400
    assert response.get_json()["detail"] == (
        f"keyIds: key {key_ids['openai']} has no provider setting for azure"
    )
    openai_only = route_body(key_ids["openai"], steps=[_step()])
    assert admin.post("/api/routes", json=openai_only).status_code == 200


def test_paths_are_unique(admin, key_ids):
    create(admin, route_body(key_ids["both"]))
    again = admin.post("/api/routes", json=route_body(key_ids["both"], name="other"))
    assert again.status_code == 400
    assert again.get_json()["detail"] == "path: a route with path '/prod/chat' already exists"


def test_the_proxy_snapshot_sees_creates_and_deletes(admin, key_ids, database):
    route = create(admin, route_body(key_ids["both"]))
    served = load_snapshot(database).routes_by_path["/prod/chat"]
    assert served.id == route["id"] and served.allows_key(key_ids["both"])
    assert [s.provider for s in served.steps] == ["azure", "openai"]
    assert served.steps[0].timeout_s == 5.0 and served.cache_config.ttl_s == 168 * 3600
    admin.delete(f"/api/routes/{route['id']}")
    assert load_snapshot(database).routes_by_path == {}
