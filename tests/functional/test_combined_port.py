"""ADMIN_ON_PROXY_PORT: both APIs on one port, neither shadowing the other, the admin key kept."""

from __future__ import annotations

import re
import time

import pytest
import requests
from werkzeug.test import Client

from app import create_app
from app.combined import PROXY_OWN_PATHS, CombinedApp
from app.config import ConfigError, Settings
from app.providers.registry import BUILTIN_ADAPTERS
from tests.functional.proxy_env import running_proxy

PASS = "combined-admin-pass"


@pytest.fixture
def combined(sqlite_db):
    settings = Settings(admin_pass=PASS, admin_on_proxy_port=True)
    proxy, admin = (
        create_app("proxy", settings, sqlite_db),
        create_app("admin", settings, sqlite_db),
    )
    yield CombinedApp(proxy, admin)
    from app import shutdown

    shutdown(proxy, 2.0)


def _sample(template: str) -> str:
    """A concrete path for a Flask rule or a proxy template (`<x>`, `<path:x>`, `:x`)."""
    path = re.sub(r"<path:[^>]+>", "a/b", template)
    path = re.sub(r"<[^>]+>", "x1", path)
    return re.sub(r":[a-z_]+", "x1", path)


def test_every_admin_route_reaches_the_admin_api(combined):
    rules = [r for r in combined.admin.url_map.iter_rules() if r.endpoint != "static"]
    assert len(rules) > 15
    for rule in rules:
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            path = _sample(rule.rule)
            expected = path not in PROXY_OWN_PATHS
            assert combined.is_admin(method, path) is expected, (method, rule.rule)


def test_every_proxy_route_reaches_the_proxy(combined):
    count = 0
    for adapter in BUILTIN_ADAPTERS:
        for method, suffix, _kind in adapter.routes:
            path = _sample(adapter.prefix + suffix)
            assert not combined.is_admin(method, path), (method, path)
            count += 1
    assert count > 20
    # Custom providers: the proxy answers POST /api/custom/providers/<name>/<route>; the admin API
    # owns POST /api/custom/providers (create) and PATCH /api/custom/providers/<id>.
    assert not combined.is_admin("POST", "/api/custom/providers/acme/v1/chat")
    assert not combined.is_admin("POST", "/api/custom/providers/acme/chat")
    assert combined.is_admin("POST", "/api/custom/providers")
    assert combined.is_admin("PATCH", "/api/custom/providers/some-id")


def test_answers_come_from_the_right_app(combined):
    client = Client(combined)
    assert client.get("/api/key-management/keys").status_code == 401  # the admin key still holds
    keys = client.get("/api/key-management/keys", headers={"X-API-KEY": PASS})
    assert keys.status_code == 200 and keys.get_json() == []
    proxied = client.post("/api/providers/openai/v1/chat/completions", json={"model": "m"})
    admin_shaped = client.get("/api/key-management/keys").get_json()
    assert proxied.status_code == 401 and proxied.get_json().keys() != admin_shaped.keys()
    assert client.get("/metrics").status_code == 200
    assert client.get("/api/docs", headers={"X-API-KEY": PASS}).status_code == 200


def test_the_setting_needs_admin_pass():
    with pytest.raises(ConfigError, match="ADMIN_ON_PROXY_PORT"):
        Settings.from_env({"ADMIN_ON_PROXY_PORT": "true"})


@pytest.mark.slow
def test_one_port_serves_the_getting_started_flow(tmp_path):
    with running_proxy(tmp_path, ADMIN_PASS=PASS, ADMIN_ON_PROXY_PORT="true") as env:
        base = env.gateway.proxy
        auth = {"X-API-KEY": PASS}
        setting = requests.put(f"{base}/api/provider-settings", headers=auth, timeout=5, json={
            "provider": "openai", "setting": {"apikey": "sk-x", "url": env.upstream.url}})  # fmt: skip
        assert setting.status_code == 200, setting.text
        key = requests.put(f"{base}/api/key-management/keys", headers=auth, timeout=5, json={
            "name": "k", "key": "one-port-key", "settingIds": [setting.json()["id"]]})  # fmt: skip
        assert key.status_code == 200, key.text
        deadline_ok = False
        for _ in range(50):
            chat = requests.post(
                f"{base}/api/providers/openai/v1/chat/completions", timeout=10,
                headers={"Authorization": "Bearer one-port-key"},
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            )  # fmt: skip
            if chat.status_code == 200:
                deadline_ok = True
                break
            time.sleep(0.1)  # the key reaches the proxy's snapshot at its next refresh
        assert deadline_ok, chat.text
        assert requests.get(f"{base}/api/provider-settings", timeout=5).status_code == 401
