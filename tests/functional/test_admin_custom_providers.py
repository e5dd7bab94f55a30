"""Custom providers through the admin API: create, list, patch, and every invalid definition refused."""

from __future__ import annotations

import copy

import pytest

from app.storage.versioning import current_config_version
from tests.fakes.custom_routes import chat_route

ROUTE = chat_route("https://llm.example.com/v1/chat/completions")
PLAIN_ROUTE = {
    "path": "/embed",
    "target_url": "http://127.0.0.1:9999/embed?version=2",
    "model_location": "model",
    "request_prompt_location": "input",
    "response_completion_location": "data.0.text",
}


def provider_body(**overrides):
    body = {"provider": "bricks", "route_configs": [dict(ROUTE)], "authentication_param": "apikey"}
    body.update(overrides)
    return body


def create(admin, **overrides):
    response = admin.post("/api/custom/providers", json=provider_body(**overrides))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def listed(admin):
    response = admin.get("/api/custom/providers")
    assert response.status_code == 200
    return response.get_json()


def test_create_answers_the_stored_provider_and_lists_it(admin, database):
    version = current_config_version(database)
    body = create(admin, provider="Bricks", authentication_param="X-Api-Token",
                  route_configs=[ROUTE, PLAIN_ROUTE])  # fmt: skip
    assert body["id"] and body["created_at"] == body["updated_at"] > 1_700_000_000
    assert body["provider"] == "bricks"  # lower-cased
    assert body["authentication_param"] == "x-api-token"
    assert body["route_configs"][0] == ROUTE
    # Missing optional fields come back with their defaults, never absent.
    assert body["route_configs"][1] == {**PLAIN_ROUTE, "stream_location": "", "stream_end_word": "",
                                        "stream_response_completion_location": "",
                                        "stream_max_empty_messages": 0}  # fmt: skip
    assert listed(admin) == [body]
    assert current_config_version(database) > version  # proxies reload their snapshot


def test_list_is_in_creation_order_and_empty_at_first(admin):
    assert listed(admin) == []
    first = create(admin, provider="alpha")
    second = create(admin, provider="beta", authentication_param="")
    assert [p["id"] for p in listed(admin)] == [first["id"], second["id"]]
    assert second["authentication_param"] == ""


def test_duplicate_name_is_400_whatever_the_case(admin):
    create(admin, provider="bricks")
    response = admin.post("/api/custom/providers", json=provider_body(provider="BRICKS"))
    assert response.status_code == 400
    assert (
        "provider" in response.get_json()["detail"]
        and "already exists" in response.get_json()["detail"]
    )
    assert len(listed(admin)) == 1


@pytest.mark.parametrize("name", ["openai", "anthropic", "azure", "vllm", "deepinfra", "OpenAI"])
def test_builtin_names_are_refused(admin, name):
    response = admin.post("/api/custom/providers", json=provider_body(provider=name))
    assert response.status_code == 400
    assert (
        "built-in" in response.get_json()["detail"] and "provider" in response.get_json()["detail"]
    )
    assert listed(admin) == []


def _without(field):
    route = dict(ROUTE)
    del route[field]
    return [route]


BAD_DEFINITIONS = [
    ({"provider": None}, "provider"),
    ({"provider": ""}, "provider"),
    ({"provider": "my provider"}, "provider"),
    ({"provider": "tab\tname"}, "provider"),
    ({"provider": "a/b"}, "provider"),
    ({"provider": 7}, "provider"),
    ({"route_configs": None}, "route_configs"),
    ({"route_configs": []}, "route_configs"),
    ({"route_configs": {"path": "/x"}}, "route_configs"),
    ({"route_configs": [dict(ROUTE), dict(ROUTE)]}, "route_configs.1.path"),
    ({"route_configs": _without("path")}, "route_configs.0.path"),
    ({"route_configs": _without("target_url")}, "route_configs.0.target_url"),
    ({"route_configs": _without("model_location")}, "route_configs.0.model_location"),
    (
        {"route_configs": _without("request_prompt_location")},
        "route_configs.0.request_prompt_location",
    ),
    (
        {"route_configs": _without("response_completion_location")},
        "route_configs.0.response_completion_location",
    ),
    ({"route_configs": _without("stream_end_word")}, "route_configs.0.stream_end_word"),
    (
        {"route_configs": _without("stream_response_completion_location")},
        "route_configs.0.stream_response_completion_location",
    ),
    ({"route_configs": _without("stream_location")}, "route_configs.0.stream_location"),
    ({"route_configs": [{**ROUTE, "path": "chat"}]}, "route_configs.0.path"),
    ({"route_configs": [{**ROUTE, "path": "/chat completions"}]}, "route_configs.0.path"),
    ({"route_configs": [{**ROUTE, "target_url": "ftp://x/y"}]}, "route_configs.0.target_url"),
    (
        {"route_configs": [{**ROUTE, "target_url": "http://169.254.169.254/latest"}]},
        "route_configs.0.target_url",
    ),
    (
        {"route_configs": [{**ROUTE, "target_url": "https://user:pw@x.example/"}]},
        "route_configs.0.target_url",
    ),
    ({"route_configs": [{**ROUTE, "model_location": 5}]}, "route_configs.0.model_location"),
    (
        {"route_configs": [{**ROUTE, "stream_max_empty_messages": "10"}]},
        "route_configs.0.stream_max_empty_messages",
    ),
    (
        {"route_configs": [{**ROUTE, "stream_max_empty_messages": -1}]},
        "route_configs.0.stream_max_empty_messages",
    ),
    ({"authentication_param": "api key"}, "authentication_param"),
    ({"authentication_param": "x:y"}, "authentication_param"),
    ({"authentication_param": "Host"}, "authentication_param"),
    ({"authentication_param": ["apikey"]}, "authentication_param"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_DEFINITIONS)
def test_invalid_definitions_are_400_naming_the_field_and_store_nothing(
    admin, database, overrides, field
):
    version = current_config_version(database)
    body = provider_body(**overrides)
    body = {k: v for k, v in body.items() if v is not None}
    response = admin.post("/api/custom/providers", json=body)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()
    assert error["type"] == "/errors/validation" and error["instance"] == "/api/custom/providers"
    assert field in error["detail"], error["detail"]
    assert listed(admin) == []
    assert current_config_version(database) == version


def test_every_missing_field_is_named_at_once(admin):
    response = admin.post(
        "/api/custom/providers", json=provider_body(route_configs=[{"path": "/x"}])
    )
    assert response.status_code == 400
    detail = response.get_json()["detail"]
    for field in (
        "target_url",
        "model_location",
        "request_prompt_location",
        "response_completion_location",
    ):
        assert f"route_configs.0.{field}" in detail


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"text"'])
def test_malformed_bodies_are_400(admin, raw):
    response = admin.post("/api/custom/providers", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert listed(admin) == []


def test_patch_merges_routes_by_path_and_changes_the_auth_header(admin, database):
    created = create(admin, route_configs=[ROUTE])
    version = current_config_version(database)
    response = admin.patch(
        f"/api/custom/providers/{created['id']}",
        json={"route_configs": [{"path": "/chat/completions", "target_url": "http://127.0.0.1:8080/chat"},
                                PLAIN_ROUTE],
              "authentication_param": "X-Key"},
    )  # fmt: skip
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["id"] == created["id"] and body["provider"] == "bricks"
    assert (
        body["created_at"] == created["created_at"] and body["updated_at"] >= created["updated_at"]
    )
    assert body["authentication_param"] == "x-key"
    assert body["route_configs"][0] == {**ROUTE, "target_url": "http://127.0.0.1:8080/chat"}
    assert body["route_configs"][1]["path"] == "/embed"
    assert body["route_configs"][1]["target_url"] == PLAIN_ROUTE["target_url"]
    assert listed(admin) == [body]
    assert current_config_version(database) > version


def test_patch_can_switch_streaming_off_and_clear_the_auth_header(admin):
    created = create(admin)
    off = {"path": ROUTE["path"], "stream_location": "", "stream_end_word": "",
           "stream_response_completion_location": ""}  # fmt: skip
    response = admin.patch(f"/api/custom/providers/{created['id']}",
                           json={"route_configs": [off], "authentication_param": None})  # fmt: skip
    assert response.status_code == 200, response.get_json()
    route = response.get_json()["route_configs"][0]
    assert route["stream_location"] == route["stream_end_word"] == ""
    assert route["model_location"] == "model"
    assert response.get_json()["authentication_param"] == ""


PATCH_ERRORS = [
    ({"route_configs": [{"path": "/new"}]}, "route_configs.1.target_url"),
    (
        {"route_configs": [{"path": ROUTE["path"], "stream_end_word": ""}]},
        "route_configs.0.stream_end_word",
    ),
    (
        {"route_configs": [{"path": ROUTE["path"], "target_url": "http://[fe80::1]/x"}]},
        "route_configs.0.target_url",
    ),
    (
        {"route_configs": [{"path": ROUTE["path"], "model_location": ""}]},
        "route_configs.0.model_location",
    ),
    ({"authentication_param": "bad header"}, "authentication_param"),
    ({"route_configs": "nope"}, "route_configs"),
]


@pytest.mark.parametrize(("patch", "field"), PATCH_ERRORS)
def test_invalid_patches_are_400_and_change_nothing(admin, patch, field):
    created = create(admin)
    before = copy.deepcopy(listed(admin))
    response = admin.patch(f"/api/custom/providers/{created['id']}", json=patch)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["detail"], response.get_json()["detail"]
    assert listed(admin) == before


def test_patch_ignores_a_new_name(admin):
    created = create(admin)
    response = admin.patch(f"/api/custom/providers/{created['id']}", json={"provider": "renamed"})
    assert response.status_code == 200
    assert response.get_json()["provider"] == "bricks"


def test_patch_of_an_unknown_id_is_404(admin):
    response = admin.patch("/api/custom/providers/no-such-id", json={"authentication_param": "x"})
    assert response.status_code == 404
    assert response.get_json()["status"] == 404


def test_provider_settings_accept_a_custom_provider_and_refuse_unknown_names(admin):
    create(admin, provider="bricks")
    ok = admin.post("/api/provider-settings",
                    json={"provider": "bricks", "setting": {"apikey": "custom-secret"}})  # fmt: skip
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["provider"] == "bricks"
    assert "custom-secret" not in ok.get_data(as_text=True)
    missing_key = admin.post("/api/provider-settings", json={"provider": "bricks", "setting": {}})
    assert missing_key.status_code == 400 and "apikey" in missing_key.get_json()["detail"]
    unknown = admin.post(
        "/api/provider-settings", json={"provider": "bricks2", "setting": {"apikey": "k"}}
    )
    assert unknown.status_code == 400 and "provider" in unknown.get_json()["detail"]
