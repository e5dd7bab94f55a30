"""Provider settings through the admin API: validation per provider, secrets never returned."""

from __future__ import annotations

import pytest

from tests.functional.admin_helpers import OPENAI_SECRET, create_setting


def test_getting_started_step_4_with_put_and_post(admin):
    for method in (admin.put, admin.post):
        response = method(
            "/api/provider-settings",
            json={"provider": "openai", "setting": {"apikey": OPENAI_SECRET}},
        )
        assert response.status_code == 200
        body = response.get_json()
        assert body["provider"] == "openai" and body["id"]
        assert body["createdAt"] == body["updatedAt"] > 1_700_000_000
        assert OPENAI_SECRET not in response.get_data(as_text=True)
        assert body["setting"] == {"apikey": "********"}


def test_api_key_spelling_and_listing_never_show_secrets(admin):
    a = create_setting(
        admin, setting={"apiKey": "sk-first"}, name="first", allowedModels=["gpt-4o"]
    )
    b = create_setting(
        admin, provider="azure", setting={"apikey": "sk-second", "resourceName": "res"}
    )
    listed = admin.get("/api/provider-settings")
    assert listed.status_code == 200
    assert {s["id"] for s in listed.get_json()} == {a["id"], b["id"]}
    text = listed.get_data(as_text=True)
    assert "sk-first" not in text and "sk-second" not in text
    by_id = admin.get(f"/api/provider-settings?ids={b['id']}").get_json()
    assert [s["setting"] for s in by_id] == [{"apikey": "********", "resourceName": "res"}]
    assert a["allowedModels"] == ["gpt-4o"] and a["name"] == "first"


def test_patch_merges_setting_and_sets_fields(admin):
    created = create_setting(admin, provider="vllm", setting={"url": "http://127.0.0.1:9000"})
    cost_map = {"promptCostPerModel": {"llama": 0.5}, "completionCostPerModel": {"llama": 1.0}}
    response = admin.patch(
        f"/api/provider-settings/{created['id']}",
        json={"setting": {"apikey": "vllm-token"}, "name": "gpu box", "allowedModels": ["llama"],
              "costMap": cost_map},
    )  # fmt: skip
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["setting"] == {"url": "http://127.0.0.1:9000", "apikey": "********"}
    assert body["name"] == "gpu box" and body["allowedModels"] == ["llama"]
    assert body["costMap"]["promptCostPerModel"] == {"llama": 0.5}
    assert "vllm-token" not in response.get_data(as_text=True)
    stored = admin.get(f"/api/provider-settings?ids={created['id']}").get_json()[0]
    assert stored == body


def test_unknown_setting_id_is_404(admin):
    response = admin.patch("/api/provider-settings/nope", json={"name": "x"})
    assert response.status_code == 404 and response.get_json()["status"] == 404


BAD_SETTINGS = [
    ({"provider": "openai", "setting": {}}, "apikey"),
    ({"provider": "anthropic", "setting": {"url": "http://127.0.0.1:1"}}, "apikey"),
    ({"provider": "deepinfra", "setting": {}}, "apikey"),
    ({"provider": "azure", "setting": {"apikey": "k"}}, "resourceName"),
    ({"provider": "vllm", "setting": {"apikey": "k"}}, "url"),
    ({"provider": "nosuch", "setting": {"apikey": "k"}}, "provider"),
    ({"setting": {"apikey": "k"}}, "provider"),
    ({"provider": "openai"}, "setting"),
    ({"provider": "openai", "setting": {"apikey": 5}}, "setting"),
    ({"provider": "openai", "setting": {"apikey": "k", "url": "ftp://x"}}, "url"),
    ({"provider": "openai", "setting": {"apikey": "k", "url": "http://169.254.169.254/v1"}}, "url"),
    ({"provider": "openai", "setting": {"apikey": "k", "url": "http://[fe80::1]:80"}}, "url"),
    ({"provider": "vllm", "setting": {"url": "http://metadata.google.internal"}}, "url"),
    ({"provider": "openai", "setting": {"apikey": "k"}, "allowedModels": "gpt-4"}, "allowedModels"),
    (
        {
            "provider": "openai",
            "setting": {"apikey": "k"},
            "costMap": {"promptCostPerModel": {"m": -1}},
        },
        "costMap",
    ),
]


@pytest.mark.parametrize(("body", "field"), BAD_SETTINGS)
def test_bad_settings_are_400_naming_the_field_and_store_nothing(admin, body, field):
    response = admin.post("/api/provider-settings", json=body)
    assert response.status_code == 400, response.get_json()
    assert field.lower() in response.get_json()["detail"].lower()
    assert admin.get("/api/provider-settings").get_json() == []


def test_patch_cannot_remove_a_required_field_or_point_at_metadata(admin):
    created = create_setting(admin)
    response = admin.patch(
        f"/api/provider-settings/{created['id']}", json={"setting": {"apikey": ""}}
    )
    assert response.status_code == 400
    response = admin.patch(
        f"/api/provider-settings/{created['id']}",
        json={"setting": {"url": "http://169.254.169.254"}},
    )
    assert response.status_code == 400
    assert admin.get("/api/provider-settings").get_json()[0]["setting"] == {"apikey": "********"}


def test_an_unreachable_database_is_503_in_the_admin_shape(settings):
    from app import create_app
    from app.storage.postgres import PostgresDatabase
    from tests.functional.servers import free_port

    dead = PostgresDatabase({"host": "127.0.0.1", "port": free_port(), "user": "postgres",
                             "dbname": "test", "connect_timeout": 1})  # fmt: skip
    client = create_app("admin", settings, dead).test_client()
    response = client.post(
        "/api/provider-settings", json={"provider": "openai", "setting": {"apikey": "sk-x"}}
    )
    assert response.status_code == 503
    body = response.get_json()
    assert body["type"] == "/errors/storage" and body["status"] == 503
    assert "nothing was changed" in body["detail"] and "sk-x" not in response.get_data(as_text=True)
