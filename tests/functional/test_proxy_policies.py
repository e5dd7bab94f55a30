"""Policies through the proxy: real gunicorn, the official SDKs, the fake upstream recording what
it received; the event's action, policy id and logged body."""

from __future__ import annotations

import anthropic
import openai
import pytest
import requests

from tests.functional.proxy_env import running_proxy, wait_for_config

pytestmark = pytest.mark.slow
CARD = "4111 1111 1111 1111"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("policies")) as proxy:
        yield proxy


@pytest.fixture(autouse=True)
def fresh_upstream(env):
    env.upstream.reset()


def policy(env, rules=None, regexes=None, **fields):
    body = {"name": "p", "tags": ["t"], "config": {"rules": rules or {}},
            "regexConfig": {"rules": regexes or []}, **fields}  # fmt: skip
    created = requests.post(f"{env.gateway.admin}/api/policies", json=body, timeout=5)
    assert created.status_code == 200, created.text
    return created.json()


def keyed(env, policy_id, **key_fields):
    return env.create_key(policyId=policy_id, shouldLogRequest=True, **key_fields)


def chat(env, key, content, **extra):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}
    return requests.post(f"{env.base_url}/chat/completions", json=body, timeout=10,
                         headers={"Authorization": f"Bearer {key}"})  # fmt: skip


def test_a_blocked_entity_is_403_and_reaches_nothing(env):
    found = policy(env, {"credit_debit_number": "block"})
    key = keyed(env, found["id"])
    response = chat(env, key, f"my card is {CARD}")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "[BricksLLM] request blocked"
    assert env.upstream.requests_to("/chat/completions") == []
    [event] = env.events(env.last_key["keyId"], expected=1)
    assert (event.status, event.action, event.policy_id) == (403, "blocked", found["id"])
    assert event.request_body is None  # a blocked body is never stored


def test_a_blocking_regex_is_403(env):
    key = keyed(
        env, policy(env, regexes=[{"definition": r"project-[a-z]+", "action": "block"}])["id"]
    )
    assert chat(env, key, "tell me about project-apollo").status_code == 403
    assert chat(env, key, "tell me about apollo").status_code == 200


def test_several_redact_rules_all_apply_and_unknown_fields_survive(env):
    found = policy(env, {"email": "allow_but_redact", "ssn": "allow_but_redact"},
                   [{"definition": r"secret-[0-9]+", "action": "allow_but_redact"}])  # fmt: skip
    key = keyed(env, found["id"])
    content = "mail a@b.co, ssn 536-90-4399, code secret-42, fine"
    response = chat(env, key, content, metadata={"k": "v"}, x_unknown=[1, 2])
    assert response.status_code == 200
    sent = env.upstream.requests_to("/chat/completions")[0].json
    assert sent["messages"][0]["content"] == "mail ***, ssn ***, code ***, fine"
    assert sent["metadata"] == {"k": "v"} and sent["x_unknown"] == [1, 2]
    [event] = env.events(env.last_key["keyId"], expected=1)
    assert event.action == "redacted" and event.policy_id == found["id"]
    assert b"a@b.co" not in event.request_body and b"***" in event.request_body


def test_a_warning_forwards_unchanged_and_allow_rules_change_no_byte(env):
    warn = keyed(env, policy(env, {"email": "allow_but_warn"})["id"])
    assert chat(env, warn, "write to a@b.co").status_code == 200
    assert env.upstream.last.json["messages"][0]["content"] == "write to a@b.co"
    assert env.events(env.last_key["keyId"], expected=1)[0].action == "warned"

    allow = keyed(env, policy(env, {"email": "allow", "ssn": "allow"})["id"])
    raw = b'{"model":"gpt-4o-mini",  "messages":[{"role":"user","content":"a@b.co"}] ,"z":1}'
    response = requests.post(f"{env.base_url}/chat/completions", data=raw, timeout=10, headers={
        "Authorization": f"Bearer {allow}", "Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 200 and env.upstream.last.body == raw


def test_anthropic_system_and_text_parts_are_redacted_in_place(env):
    found = policy(env, {"email": "allow_but_redact"})
    setting = env.create_setting("anthropic", {"apikey": "sk-ant"})
    key = env.create_key_on([setting], policyId=found["id"])
    client = anthropic.Anthropic(api_key=key, base_url=f"{env.gateway.proxy}/api/providers/anthropic",
                                 max_retries=0)  # fmt: skip
    client.messages.create(
        model="claude-3-5-haiku-20241022", max_tokens=10, system="reply to ops@corp.io",
        messages=[{"role": "user", "content": [{"type": "text", "text": "cc me@x.org"},
                                               {"type": "image", "source": {"type": "base64",
                                                "media_type": "image/png", "data": "iVBORw0K"}}]}],
    )  # fmt: skip
    sent = env.upstream.requests_to("/v1/messages")[0].json
    assert sent["system"] == "reply to ***"
    assert sent["messages"][0]["content"][0]["text"] == "cc ***"
    assert sent["messages"][0]["content"][1]["source"]["data"] == "iVBORw0K"


def test_a_policy_change_reaches_the_proxy(env):
    found = policy(env, {"email": "allow"})
    key = keyed(env, found["id"])
    assert chat(env, key, "a@b.co").status_code == 200
    patched = requests.patch(f"{env.gateway.admin}/api/policies/{found['id']}", timeout=5,
                             json={"config": {"rules": {"email": "block"}}})  # fmt: skip
    assert patched.status_code == 200, patched.text
    wait_for_config()
    assert chat(env, key, "a@b.co").status_code == 403


def test_the_sdk_sees_a_block_as_a_permission_error(env):
    key = keyed(env, policy(env, {"email": "block"})["id"])
    client = openai.OpenAI(api_key=key, base_url=env.base_url, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="gpt-4o-mini",
                                       messages=[{"role": "user", "content": "a@b.co"}])  # fmt: skip


def test_a_key_naming_an_unknown_policy_is_400(env):
    setting = env.create_setting("openai", {"apikey": "sk"})
    response = requests.put(f"{env.gateway.admin}/api/key-management/keys", timeout=5, json={
        "name": "k", "key": "k-unknown-policy", "settingIds": [setting], "policyId": "nope"})  # fmt: skip
    assert response.status_code == 400 and "policyId" in response.text
