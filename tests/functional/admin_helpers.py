"""Small helpers for admin API tests: create the README's Getting Started objects."""

from __future__ import annotations

import hashlib

OPENAI_SECRET = "sk-provider-secret-never-returned"


def create_setting(admin, provider="openai", setting=None, **extra):
    body = {"provider": provider, "setting": setting or {"apikey": OPENAI_SECRET}, **extra}
    response = admin.put("/api/provider-settings", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def create_key(admin, setting_id, key="my-secret-key", **extra):
    body = {"name": "My Secret Key", "key": key, "settingIds": [setting_id], **extra}
    response = admin.put("/api/key-management/keys", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def key_count(admin) -> int:
    return admin.post("/api/v2/key-management/keys", json={"returnCount": True}).get_json()["count"]
