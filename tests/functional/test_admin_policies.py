"""The policies API through the admin app, on SQLite and PostgreSQL, as a client would use it."""

from __future__ import annotations

import pytest

from app.proxy.snapshot import load_snapshot
from app.storage.versioning import current_config_version
from tests.functional.admin_helpers import create_key, create_setting

BODY = {
    "name": "Privacy Policy #1",
    "tags": ["org-111"],
    "config": {"rules": {"email": "allow_but_redact", "ssn": "block"}},
    "regexConfig": {"rules": [{"definition": r"[2-9]|[12]\d|3[0-6]", "action": "block"}]},
}


def create(admin, **body):
    response = admin.post("/api/policies", json={**BODY, **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_create_get_list_patch_delete(admin, database):
    policy = create(admin)
    assert policy["id"] and policy["createdAt"] == policy["created_at"] > 0
    assert {k: policy[k] for k in ("name", "tags", "config", "regexConfig")} == BODY
    assert policy["redactResponses"] is False and policy["onDetectorFailure"] == "block"
    assert admin.get(f"/api/policies/{policy['id']}").get_json() == policy
    other = create(admin, tags=["org-222"], config=None, regexConfig=None)
    assert other["config"] is None and other["regexConfig"] is None
    assert admin.get("/api/policies?tags=org-111").get_json() == [policy]
    assert admin.get("/api/policies").get_json() == [policy, other]

    version = current_config_version(database)
    patched = admin.patch(f"/api/policies/{policy['id']}", json={"config": {"rules": {"phone": "block"}},
                                                                "redactResponses": True})  # fmt: skip
    assert patched.status_code == 200
    body = patched.get_json()
    assert body["config"] == {"rules": {"phone": "block"}} and body["redactResponses"] is True
    assert body["regexConfig"] == BODY["regexConfig"] and body["tags"] == ["org-111"]
    assert current_config_version(database) == version + 1
    assert load_snapshot(database).policies[policy["id"]].rules == {"phone": "block"}

    deleted = admin.delete(f"/api/policies/{policy['id']}")
    assert deleted.status_code == 200 and deleted.get_json()["id"] == policy["id"]
    assert admin.get(f"/api/policies/{policy['id']}").status_code == 404
    assert admin.delete(f"/api/policies/{policy['id']}").status_code == 404
    assert admin.patch(f"/api/policies/{policy['id']}", json={"name": "x"}).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tags": None}, "tags"),
        ({"tags": "org"}, "tags"),
        ({"config": {"rules": {"home_address": "block"}}}, "config.rules.home_address"),
        ({"config": {"rules": {"email": "redact"}}}, "config.rules.email"),
        ({"config": {}}, "config.rules"),
        ({"config": []}, "config"),
        ({"regexConfig": {"rules": [{"definition": r"(a)\1", "action": "block"}]}},
         "regexConfig.rules.0.definition"),
        ({"regexConfig": {"rules": [{"definition": "(?=lookahead)", "action": "block"}]}},
         "regexConfig.rules.0.definition"),
        ({"regexConfig": {"rules": [{"definition": "x", "action": "deny"}]}},
         "regexConfig.rules.0.action"),
        ({"regexConfig": {"rules": [{"action": "block"}]}}, "regexConfig.rules.0.definition"),
        ({"regexConfig": {"rules": "x"}}, "regexConfig.rules"),
        ({"onDetectorFailure": "maybe"}, "onDetectorFailure"),
        ({"redactResponses": "yes"}, "redactResponses"),
    ],
)  # fmt: skip
def test_bad_policies_are_400_naming_the_field_and_nothing_is_stored(admin, body, field):
    sent = {**BODY, **body}
    if body.get("tags", "") is None:
        del sent["tags"]
    response = admin.post("/api/policies", json=sent)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()
    assert error["type"] == "/errors/validation" and error["instance"] == "/api/policies"
    assert field in error["detail"]
    assert admin.get("/api/policies").get_json() == []


def test_a_bad_patch_changes_nothing(admin):
    policy = create(admin)
    bad = admin.patch(f"/api/policies/{policy['id']}",
                      json={"regexConfig": {"rules": [{"definition": "(", "action": "block"}]}})  # fmt: skip
    assert bad.status_code == 400 and "regexConfig.rules.0.definition" in bad.get_json()["detail"]
    assert admin.get(f"/api/policies/{policy['id']}").get_json() == policy


def test_a_key_must_name_an_existing_policy(admin):
    setting = create_setting(admin)
    unknown = admin.put("/api/key-management/keys", json={
        "name": "k", "key": "secret-1", "settingIds": [setting["id"]], "policyId": "nope"})  # fmt: skip
    assert unknown.status_code == 400 and unknown.get_json()["detail"].startswith("policyId: ")
    policy = create(admin)
    key = create_key(admin, setting["id"], policyId=policy["id"])
    assert key["policyId"] == policy["id"]
    patched = admin.patch(f"/api/key-management/keys/{key['keyId']}", json={"policyId": "gone"})
    assert patched.status_code == 400 and patched.get_json()["detail"].startswith("policyId: ")

    in_use = admin.delete(f"/api/policies/{policy['id']}")
    assert in_use.status_code == 400 and in_use.get_json()["detail"].startswith("id: ")
    detach = admin.patch(f"/api/key-management/keys/{key['keyId']}", json={"policyId": ""})
    assert detach.status_code == 200 and detach.get_json()["policyId"] == ""
    assert admin.delete(f"/api/policies/{policy['id']}").status_code == 200


def test_the_openapi_document_shows_working_examples(admin):
    spec = admin.get("/api/openapi.json").get_json()
    post = spec["paths"]["/api/policies"]["post"]
    example = post["requestBody"]["content"]["application/json"]["example"]
    assert admin.post("/api/policies", json=example).status_code == 200
    assert {"get", "patch", "delete"} <= set(spec["paths"]["/api/policies/{policy_id}"])
