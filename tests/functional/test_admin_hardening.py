"""Hostile admin input answered cleanly (400/403/413/415 in the admin error shape, never a 500 or
a misleading 503), on SQLite and PostgreSQL: deep JSON, big bodies, NUL, NaN, numeric strings,
PATCH ttl, non-ASCII keys, HEAD on health, and the browser attacks on a password-less admin."""

from __future__ import annotations

import pytest

from app import create_app
from app.config import Settings
from tests.functional.admin_helpers import create_key, create_setting


def write_endpoints(app) -> list[tuple[str, str]]:
    """Every (method, path) of the admin API that takes a JSON body, path ids filled in."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
            path = rule.rule
            for argument in rule.arguments:
                path = path.replace(f"<{argument}>", "some-id").replace(
                    f"<string:{argument}>", "some-id"
                )
            found.append((method, path))
    return found


def assert_admin_error(response, status: int, *words: str) -> None:
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert set(body) == {"type", "title", "status", "detail", "instance"}, body
    for word in words:
        assert word in body["detail"], body


def test_json_nested_1000_deep_is_a_400_on_every_json_endpoint(admin_app, admin):
    endpoints = write_endpoints(admin_app)
    assert len(endpoints) >= 10
    deep = "[" * 1000 + "]" * 1000
    deeper = '{"a":' * 100_000 + "1" + "}" * 100_000
    for method, path in endpoints:
        for body in (deep, deeper):
            response = admin.open(path, method=method, data=body,
                                  content_type="application/json")  # fmt: skip
            assert_admin_error(response, 400, "nested deeper")


def test_a_body_over_the_limit_is_a_413_naming_the_setting(database):
    app = create_app("admin", Settings(admin_max_body_bytes=1000), database)
    client = app.test_client()
    big = {"provider": "openai", "setting": {"apikey": "x" * 2000}}
    assert_admin_error(client.put("/api/provider-settings", json=big), 413,
                       "ADMIN_MAX_BODY_BYTES")  # fmt: skip
    assert client.get("/api/provider-settings").get_json() == []


def test_nul_anywhere_in_a_body_is_a_400_naming_the_field(admin):
    setting_key = {"provider": "openai", "setting": {"apikey": "sk", "a\u0000": "b"}}
    assert_admin_error(admin.put("/api/provider-settings", json=setting_key), 400, "setting")
    name = {"provider": "openai", "name": "a\u0000", "setting": {"apikey": "sk"}}
    assert_admin_error(admin.put("/api/provider-settings", json=name), 400, "name", "NUL")
    price = {"provider": "openai", "setting": {"apikey": "sk"},
             "costMap": {"promptCostPerModel": {"gpt\u0000": 1}}}  # fmt: skip
    assert_admin_error(admin.put("/api/provider-settings", json=price), 400, "NUL")
    assert admin.get("/api/provider-settings").get_json() == []


def test_nul_in_a_path_id_or_a_query_is_a_400(admin):
    for path in ("/api/key-management/keys/a%00b", "/api/provider-settings/a%00b",
                 "/api/users/a%00b"):  # fmt: skip
        assert_admin_error(admin.patch(path, json={"name": "x"}), 400, "NUL")
    assert_admin_error(admin.get("/api/key-management/keys?tag=a%00"), 400, "NUL")
    assert_admin_error(admin.get("/api/events?customId=a%00"), 400, "NUL")


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(admin, value):
    setting = create_setting(admin)
    body = f'{{"name": "k", "key": "secret-1", "settingIds": ["{setting["id"]}"], "costLimitInUsd": {value}}}'
    response = admin.put("/api/key-management/keys", data=body, content_type="application/json")
    assert_admin_error(response, 400, value)


def test_numeric_strings_are_refused_where_numbers_are_required(admin):
    price = {"provider": "openai", "setting": {"apikey": "sk"},
             "costMap": {"promptCostPerModel": {"gpt-4o": "0.5"}}}  # fmt: skip
    assert_admin_error(admin.put("/api/provider-settings", json=price), 400, "costMap")
    setting = create_setting(admin)
    for field, value in (("costLimitInUsd", "1"), ("rateLimitOverTime", "5")):
        body = {"name": "k", "key": "secret-2", "settingIds": [setting["id"]], field: value,
                "rateLimitUnit": "m"}  # fmt: skip
        assert_admin_error(admin.put("/api/key-management/keys", json=body), 400, field)


def test_patch_updates_the_ttl_and_refuses_a_bad_one(admin):
    key = create_key(admin, create_setting(admin)["id"], ttl="1h")
    path = f"/api/key-management/keys/{key['keyId']}"
    assert admin.patch(path, json={"ttl": "2d"}).get_json()["ttl"] == "2d"
    assert_admin_error(admin.patch(path, json={"ttl": "forever"}), 400, "ttl")
    listed = admin.get(f"/api/key-management/keys?keyIds={key['keyId']}").get_json()
    assert [k["ttl"] for k in listed if k["keyId"] == key["keyId"]] in ([], ["2d"])


@pytest.mark.parametrize("secret", ["clé-secrète", "has space", "tab\there"])
def test_a_key_that_no_header_can_carry_is_refused_at_creation(admin, secret):
    setting = create_setting(admin)
    body = {"name": "k", "key": secret, "settingIds": [setting["id"]]}
    assert_admin_error(admin.put("/api/key-management/keys", json=body), 400, "key", "ASCII")


def test_head_on_health_is_answered_like_get_even_with_a_password(database):
    client = create_app("admin", Settings(admin_pass="pw"), database).test_client()
    assert client.head("/api/health").status_code == 200
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/provider-settings").status_code == 401


class TestWithoutAdminPass:
    """A loopback-only admin is still reachable from the browser of the machine's user."""

    def test_a_foreign_host_is_refused(self, admin):
        for host in ("evil.example", "127.0.0.1.evil.example", "10.0.0.1:8001"):
            response = admin.get("/api/provider-settings", headers={"Host": host})
            assert_admin_error(response, 403, "loopback")
        for host in ("localhost:8001", "127.0.0.1:8001", "[::1]:8001", "localhost"):
            assert admin.get("/api/provider-settings", headers={"Host": host}).status_code == 200

    def test_cross_origin_writes_are_refused(self, admin):
        body = {"provider": "openai", "setting": {"apikey": "sk"}}
        for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                        {"Sec-Fetch-Site": "cross-site"}):  # fmt: skip
            response = admin.put("/api/provider-settings", json=body, headers=headers)
            assert_admin_error(response, 403, "cross-origin")
        assert admin.get("/api/provider-settings").get_json() == []
        same = admin.put("/api/provider-settings", json=body,
                         headers={"Origin": "http://localhost:8001"})  # fmt: skip
        assert same.status_code == 200

    def test_form_content_types_a_browser_sends_cross_origin_are_refused(self, admin):
        body = '{"provider": "openai", "setting": {"apikey": "sk"}}'
        for content_type in ("text/plain", "multipart/form-data; boundary=x"):
            response = admin.put("/api/provider-settings", data=body, content_type=content_type)
            assert_admin_error(response, 415, "application/json")
        curl = admin.put("/api/provider-settings", data=body,
                         content_type="application/x-www-form-urlencoded")  # fmt: skip
        assert curl.status_code == 200  # curl -d without -H keeps working

    def test_with_a_password_those_checks_are_left_to_the_password(self, database):
        client = create_app("admin", Settings(admin_pass="pw"), database).test_client()
        response = client.get("/api/provider-settings",
                              headers={"Host": "gateway.example", "X-API-KEY": "pw"})  # fmt: skip
        assert response.status_code == 200


@pytest.mark.parametrize("host", ["0xa9fea9fe", "2852039166", "0251.0376.0251.0376",
                                  "[::ffff:169.254.169.254]", "100.100.100.200", "192.0.0.192",
                                  "169.254.170.2", "[fd00:ec2::254]"])  # fmt: skip
def test_a_metadata_address_in_any_encoding_is_refused_as_a_setting_url(admin, host):
    body = {"provider": "openai", "setting": {"apikey": "sk", "url": f"http://{host}/v1"}}
    assert_admin_error(admin.put("/api/provider-settings", json=body), 400, "setting.url")


@pytest.mark.parametrize("name", ["evil.example/x?", "evil.example#", "a.b", "a b", "-a"])
def test_an_azure_resource_name_must_be_one_dns_label(admin, name):
    body = {"provider": "azure", "setting": {"apikey": "sk", "resourceName": name}}
    assert_admin_error(admin.put("/api/provider-settings", json=body), 400, "resourceName")
    good = {"provider": "azure", "setting": {"apikey": "sk", "resourceName": "my-resource-1"}}
    assert admin.put("/api/provider-settings", json=good).status_code == 200
