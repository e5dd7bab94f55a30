"""ADMIN_PASS protects every admin endpoint but health; the comparison is on the exact value."""

from __future__ import annotations

import dataclasses

import pytest

from app import create_app


@pytest.fixture
def protected(sqlite_db, settings):
    app = create_app("admin", dataclasses.replace(settings, admin_pass="s3cret-admin"), sqlite_db)
    return app.test_client()


@pytest.mark.parametrize("headers", [{}, {"X-API-KEY": "wrong"}, {"X-API-KEY": "s3cret-admin "}])
def test_missing_or_wrong_admin_key_is_401(protected, headers):
    for method, path in (("get", "/api/provider-settings"), ("put", "/api/key-management/keys"),
                         ("get", "/api/openapi.json")):  # fmt: skip
        response = getattr(protected, method)(path, headers=headers, json={})
        assert response.status_code == 401
        body = response.get_json()
        assert body["status"] == 401 and body["type"] == "/errors/unauthorized"
        assert "s3cret" not in response.get_data(as_text=True)


def test_right_admin_key_passes_and_health_is_open(protected):
    assert (
        protected.get("/api/provider-settings", headers={"X-API-KEY": "s3cret-admin"}).status_code
        == 200
    )
    assert protected.get("/api/health").status_code == 200


def test_without_admin_pass_no_key_is_needed(admin):
    assert admin.get("/api/provider-settings").status_code == 200
