"""Liveness and readiness on the admin app: open without the key, HEAD answered like GET."""

from __future__ import annotations

from app import create_app
from app.config import Settings


def test_health_and_readiness_need_no_key_and_answer_head(sqlite_db):
    admin = create_app("admin", Settings(admin_pass="health-pass"), sqlite_db).test_client()
    for path in ("/api/health", "/api/health/ready"):
        got = admin.get(path)
        assert got.status_code == 200, path
        head = admin.head(path)
        assert head.status_code == 200 and head.data == b""
    assert admin.get("/api/health/ready").get_json() == {
        "status": "ready", "checks": {"database": {"ok": True}},
    }  # fmt: skip
    assert admin.get("/api/key-management/keys").status_code == 401


def test_readiness_is_503_when_the_database_is_gone(sqlite_db):
    admin = create_app("admin", Settings(), sqlite_db).test_client()
    sqlite_db.close()
    answer = admin.get("/api/health/ready")
    assert answer.status_code == 503
    assert answer.get_json()["checks"]["database"]["ok"] is False
    assert admin.get("/api/health").status_code == 200
