"""Requests the gateway refuses: the status and message the client sees, nothing sent upstream,
and exactly one event row each (the key on it when the key is known)."""

from __future__ import annotations

import pytest

from tests.inproc.harness import Gateway

CHAT_PATH = "/api/providers/openai/v1/chat/completions"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def refused(gateway: Gateway, path: str, key: str | None, status: int, message: str) -> None:
    """The request gets `status` with `message`, reaches nothing, and leaves one event."""
    response = gateway.post(path, json=CHAT, key=key, headers={"X-CUSTOM-EVENT-ID": "cid"})
    assert response.status_code == status
    assert response.json["error"]["message"] == f"[BricksLLM] {message}"
    assert response.json["error"]["code"] == str(status)
    assert gateway.upstream.requests == []
    [event] = gateway.events.rows
    assert (event.status, event.path, event.custom_id) == (status, path, "cid")
    if key:
        assert key not in response.get_data(as_text=True)


def test_no_key_is_401(gateway):
    refused(gateway, CHAT_PATH, None, 401, "api key is missing")
    assert gateway.events.rows[0].key_id == ""


def test_an_unknown_key_is_401(gateway):
    gateway.key()
    refused(gateway, CHAT_PATH, "gw-not-a-key", 401, "api key is not valid")
    assert gateway.events.rows[0].key_id == ""


def test_a_revoked_key_is_401_with_the_key_on_its_event(gateway):
    key = gateway.key()
    gateway.patch_key(gateway.last_key.key_id, revoked=True)
    refused(gateway, CHAT_PATH, key, 401, "api key has been revoked")
    assert gateway.events.rows[0].key_id == gateway.last_key.key_id


def test_a_key_expires_when_the_clock_passes_its_ttl(gateway):
    key = gateway.key(ttl="10s")
    gateway.clock.now = gateway.last_key.created_at + 9.5
    assert gateway.post(CHAT_PATH, json=CHAT, key=key).status_code == 200
    gateway.events.rows.clear()
    gateway.upstream.requests.clear()
    gateway.clock.advance(0.5)
    refused(gateway, CHAT_PATH, key, 401, "api key has expired")


def test_a_path_the_key_may_not_call_is_403(gateway):
    key = gateway.key(allowedPaths=[{"path": "/api/providers/openai/v1/embeddings",
                                     "method": "POST"}])  # fmt: skip
    refused(gateway, CHAT_PATH, key, 403, "path POST /api/providers/openai/v1/chat/completions "
            "is not allowed for this key")  # fmt: skip
    assert gateway.events.rows[0].key_id == gateway.last_key.key_id


def test_a_model_the_setting_does_not_allow_is_403(gateway):
    key = gateway.key([gateway.setting(allowedModels=["gpt-4o"])])
    refused(gateway, CHAT_PATH, key, 403, "model gpt-4o-mini is not allowed")


def test_a_model_the_user_may_not_use_is_403(gateway):
    key = gateway.key()
    gateway.user("alice", allowedModels=["gpt-4o"])
    response = gateway.post(CHAT_PATH, json={**CHAT, "user": "alice"}, key=key)
    assert response.status_code == 403
    assert response.json["error"]["message"] == (
        "[BricksLLM] model gpt-4o-mini is not allowed for user alice"
    )
    assert gateway.upstream.requests == []
    [event] = gateway.events.rows
    assert (event.status, event.user_id) == (403, "alice")


@pytest.mark.parametrize(
    "path", ["/api/providers/openai/v1/nope", "/v1/chat/completions", "/api/providers/unknown/v1/x"]
)
def test_an_unknown_route_is_404(gateway, path):
    key = gateway.key()
    refused(gateway, path, key, 404, "route not supported")


def test_encoded_path_segments_stay_in_their_segment_upstream(gateway):
    key = gateway.key()
    response = gateway.client.get("/api/providers/openai/v1/files/file-1%3Fpurpose=x%23y",
                                  headers={"x-api-key": key})  # fmt: skip
    assert response.status_code == 200
    sent = gateway.upstream.last.url
    assert sent.endswith("/v1/files/file-1%3Fpurpose=x%23y") and "?" not in sent


def test_dot_segments_are_400_with_one_event(gateway):
    key = gateway.key()
    response = gateway.client.get(
        "/api/providers/openai/v1/files/%2e%2e", headers={"x-api-key": key}
    )
    assert response.status_code == 400
    assert (
        response.json["error"]["message"]
        == "[BricksLLM] path segments '.' and '..' are not allowed"
    )
    assert gateway.upstream.requests == [] and len(gateway.events.rows) == 1


def test_a_method_the_proxy_does_not_serve_is_a_json_405_with_its_event(gateway):
    key = gateway.key()
    response = gateway.client.open(CHAT_PATH, method="TRACE", headers={"x-api-key": key})
    assert response.status_code == 405 and response.json["error"]["code"] == "405"
    [event] = gateway.events.rows
    assert (event.status, event.method, event.path) == (405, "TRACE", CHAT_PATH)
    assert event.key_id == gateway.last_key.key_id and event.cost_micros == 0


def test_a_body_over_the_size_limit_is_a_json_413_with_its_event(gateway):
    key = gateway.key()
    gateway.app.config["MAX_CONTENT_LENGTH"] = 1024
    response = gateway.post(CHAT_PATH, data=b"x" * 2048, key=key,
                            headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 413 and response.json["error"]["code"] == "413"
    assert gateway.upstream.requests == []
    [event] = gateway.events.rows
    assert (event.status, event.key_id) == (413, gateway.last_key.key_id)
    assert event.error
