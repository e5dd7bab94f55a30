"""A key that logs requests (or responses) keeps the bodies on its event rows; one that does not
keeps neither."""

from __future__ import annotations

import json

CHAT_PATH = "/api/providers/openai/v1/chat/completions"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def post_raw(gateway, key, body: bytes):
    return gateway.post(CHAT_PATH, data=body, key=key, content_type="application/json")


def test_a_key_that_logs_requests_keeps_the_body_that_went_upstream(gateway):
    key = gateway.key(shouldLogRequest=True)
    body = json.dumps(CHAT).encode()
    assert post_raw(gateway, key, body).status_code == 200
    [event] = gateway.events.rows
    assert event.request_body == body == gateway.upstream.last.body
    assert event.response_body is None


def test_a_logged_stream_keeps_the_clients_body_not_the_usage_the_gateway_asked_for(gateway):
    key = gateway.key(shouldLogRequest=True)
    body = json.dumps({**CHAT, "stream": True}).encode()
    post_raw(gateway, key, body).get_data()
    assert b"include_usage" in gateway.upstream.last.body
    [event] = gateway.events.rows
    assert event.request_body == body


def test_a_key_that_logs_responses_keeps_the_answer(gateway):
    key = gateway.key(shouldLogResponse=True)
    response = post_raw(gateway, key, json.dumps(CHAT).encode())
    [event] = gateway.events.rows
    assert event.response_body == response.get_data() and event.request_body is None


def test_a_key_that_logs_nothing_keeps_no_body(gateway):
    key = gateway.key()
    assert post_raw(gateway, key, json.dumps(CHAT).encode()).status_code == 200
    [event] = gateway.events.rows
    assert (event.request_body, event.response_body) == (None, None)


def test_a_refused_request_of_a_logging_key_keeps_its_body_too(gateway):
    key = gateway.key(shouldLogRequest=True, rateLimitOverTime=1, rateLimitUnit="m")
    body = json.dumps(CHAT).encode()
    assert [post_raw(gateway, key, body).status_code for _ in range(2)] == [200, 429]
    assert [e.request_body for e in gateway.events.rows] == [body, body]


def test_a_redacted_request_is_logged_as_it_went_upstream_never_as_sent(gateway):
    policy = gateway.admin.policies.create({"name": "p", "config": {"rules": {
        "email": "allow_but_redact"}}})  # fmt: skip
    gateway.refresh()
    key = gateway.key(shouldLogRequest=True, policyId=policy.id)
    sent = {**CHAT, "messages": [{"role": "user", "content": "mail a@b.co please"}]}
    assert post_raw(gateway, key, json.dumps(sent).encode()).status_code == 200
    forwarded = gateway.upstream.last
    assert forwarded.json["messages"][0]["content"] == "mail *** please"
    [event] = gateway.events.rows
    assert event.request_body == forwarded.body and b"a@b.co" not in event.request_body
    assert (event.action, event.policy_id) == ("redacted", policy.id)


def test_a_blocked_request_reaches_nothing_and_its_body_is_not_kept(gateway):
    policy = gateway.admin.policies.create({"name": "p", "config": {"rules": {
        "email": "block"}}})  # fmt: skip
    gateway.refresh()
    key = gateway.key(shouldLogRequest=True, policyId=policy.id)
    sent = {**CHAT, "messages": [{"role": "user", "content": "mail a@b.co please"}]}
    response = post_raw(gateway, key, json.dumps(sent).encode())
    assert response.status_code == 403
    assert response.json["error"]["message"] == "[BricksLLM] request blocked"
    assert gateway.upstream.requests == []
    [event] = gateway.events.rows
    assert (event.status, event.action, event.request_body) == (403, "blocked", None)
