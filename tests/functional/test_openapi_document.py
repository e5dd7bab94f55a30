"""The admin API's OpenAPI document can be used to try things: it validates, every operation
asks for X-API-KEY, every request example is accepted by a running server as shown (in order:
settings, keys, custom providers, users, events, reporting), each endpoint's 400 is its own."""

from __future__ import annotations

import re

import pytest
import requests
from openapi_spec_validator import validate

from app import create_app
from app.admin.openapi_docs import ERROR_DETAILS, REQUEST_EXAMPLES, SETTING_ID
from app.config import Settings
from tests.functional.servers import Gateway

ADMIN_PASS = "docs-admin-pass"


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    from app.storage.migrate import migrate
    from app.storage.sqlite import SqliteDatabase

    db = SqliteDatabase(str(tmp_path_factory.mktemp("doc") / "doc.db"))
    migrate(db)
    client = create_app("admin", Settings(admin_pass=ADMIN_PASS), db).test_client()
    return client.get("/api/openapi.json", headers={"X-API-KEY": ADMIN_PASS}).get_json()


def _operations(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                yield method, path, operation


def test_the_document_validates_and_every_admin_operation_asks_for_the_key(document):
    validate(document)
    assert document["components"]["securitySchemes"]["AdminKey"]["name"] == "X-API-KEY"
    operations = list(_operations(document))
    assert len(operations) > 25
    for method, path, operation in operations:
        if path.startswith("/api/health"):
            assert operation["security"] == [], path
        else:
            assert operation["security"] == [{"AdminKey": []}], (method, path)
            assert "401" in operation["responses"], (method, path)
    assert {"/api/health", "/api/health/ready"} <= set(document["paths"])


def test_every_request_body_has_an_example(document):
    for method, path, operation in _operations(document):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:  # ours (REQUEST_EXAMPLES) or the blueprint's own
            assert "example" in body, (method, path)


def test_each_endpoints_error_example_is_its_own(document):
    details = set()
    for _method, path, operation in _operations(document):
        if "400" in operation["responses"]:
            example = operation["responses"]["400"]["content"]["application/json"]["example"]
            assert example["instance"] == path and example["status"] == 400
            details.add(example["detail"])
    assert len(details) >= 8


def test_the_setting_object_is_documented_per_provider(document):
    schemas = document["components"]["schemas"]
    for name in ("ProviderSettingCreate", "ProviderSettingUpdate"):
        setting = schemas[name]["properties"]["setting"]
        assert {"apikey", "url", "resourceName"} <= set(setting["properties"])
        assert "azure" in setting["properties"]["resourceName"]["description"]
        assert "vllm" in setting["properties"]["url"]["description"]
    assert (
        "promptCostPerModel"
        in schemas["ProviderSettingCreate"]["properties"]["costMap"]["description"]
    )


def test_most_fields_carry_a_description(document):
    properties = [prop for schema in document["components"]["schemas"].values()
                  for prop in schema.get("properties", {}).values()]  # fmt: skip
    described = sum("description" in prop for prop in properties)
    assert described / len(properties) > 0.9, (described, len(properties))


ORDER = ("/api/provider-settings", "/api/policies", "/api/key-management", "/api/v2/key-management",
         "/api/routes", "/api/custom", "/api/users", "/api/v2/events", "/api/reporting")  # fmt: skip
# The 400 each ERROR_DETAILS entry documents, caused for real.
BAD = {
    ("put", "/api/key-management/keys"): {
        "name": "n",
        "key": "k",
        "settingIds": [SETTING_ID],
        "rateLimitOverTime": 2,
    },  # fmt: skip
    ("patch", "/api/key-management/keys/{key_id}"): {"costLimitInUsdOverTime": 2},
    ("put", "/api/provider-settings"): {"provider": "openai", "setting": {}},
    ("post", "/api/provider-settings"): {
        "provider": "openai",
        "setting": {"apikey": "x"},
        "url": "http://localhost:1",
    },  # fmt: skip
    ("patch", "/api/provider-settings/{setting_id}"): {"provider": "anthropic"},
    ("post", "/api/custom/providers"): {"provider": "x"},
    ("post", "/api/users"): {},
    ("post", "/api/v2/events"): {"start": 5, "end": 1},
    ("post", "/api/reporting/events"): {"start": 1, "end": 5},
    ("post", "/api/reporting/top-keys"): {"start": 5, "end": 1},
}


# Operations whose answer holds an id that later examples (path parameters) need.
ANSWER_IDS = {
    ("put", "/api/provider-settings"): ("setting_id", "id"),
    ("put", "/api/key-management/keys"): ("key_id", "keyId"),
    ("post", "/api/custom/providers"): ("provider_id", "id"),
    ("post", "/api/users"): ("user_id", "id"),
    ("post", "/api/policies"): ("policy_id", "id"),
}


def _key_for_the_route_example(admin, auth, ids, example):
    """The route example's steps call azure and openai: its key needs a setting of each."""
    azure = requests.put(f"{admin}/api/provider-settings", headers=auth, timeout=10, json={
        "provider": "azure", "setting": {"apikey": "k", "resourceName": "r"}}).json()  # fmt: skip
    patched = requests.patch(
        f"{admin}/api/key-management/keys/{ids['key_id']}", headers=auth,
        json={"settingIds": [ids["setting_id"], azure["id"]]}, timeout=10,
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    return {**example, "keyIds": [ids["key_id"]]}


@pytest.mark.slow
def test_every_example_is_accepted_by_a_running_server_and_errors_are_real(tmp_path):
    env = {"SQLITE_PATH": str(tmp_path / "bricks.db"), "ADMIN_PASS": ADMIN_PASS}
    with Gateway(env) as gateway:
        auth = {"X-API-KEY": ADMIN_PASS, "Connection": "close"}  # no idle keep-alive at stop
        document = requests.get(f"{gateway.admin}/api/openapi.json", headers=auth, timeout=5).json()
        ids: dict[str, str] = {}

        def fill(value):
            text = requests.models.complexjson.dumps(value).replace(
                SETTING_ID, ids.get("setting_id", "")
            )
            return requests.models.complexjson.loads(text)

        def url_of(method, path, operation):
            query = {p["name"]: p["example"] for p in operation.get("parameters", [])
                     if isinstance(p, dict) and p.get("in") == "query" and "example" in p}  # fmt: skip
            concrete = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
            return f"{gateway.admin}{concrete}", query

        calls = [(m, p, o) for m, p, o in _operations(document) if "requestBody" in o]
        calls.sort(
            key=lambda c: next(i for i, prefix in enumerate(ORDER) if c[1].startswith(prefix))
        )
        assert len(calls) >= len(REQUEST_EXAMPLES)
        for method, path, operation in calls:
            example = operation["requestBody"]["content"]["application/json"]["example"]
            if path == "/api/routes":
                example = _key_for_the_route_example(gateway.admin, auth, ids, example)
            url, query = url_of(method, path, operation)
            answer = requests.request(
                method, url, params=query, json=fill(example), headers=auth, timeout=10
            )
            assert answer.status_code == 200, (method, path, answer.text)
            if (method, path) in ANSWER_IDS:
                name, field = ANSWER_IDS[(method, path)]
                ids[name] = answer.json()[field]

        for (method, path), detail in ERROR_DETAILS.items():
            if (method, path) not in BAD:
                continue
            url, _ = url_of(method, path, {})
            answer = requests.request(
                method, url, json=fill(BAD[(method, path)]), headers=auth, timeout=10
            )
            assert answer.status_code == 400 and answer.json()["detail"] == detail, (
                path,
                answer.text,
            )
