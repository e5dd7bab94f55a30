"""The OpenAI proxy end to end: real gunicorn, the official SDK and curl-style calls, a real fake
upstream; assertions on what the client got, what the upstream received and the event row."""

from __future__ import annotations

import hashlib
import json
import socket
import time
import uuid

import openai
import pytest
import requests

from tests.functional.proxy_env import running_proxy, start_of_a_fresh_minute, wait_for_config

pytestmark = pytest.mark.slow
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("proxy")) as proxy:
        yield proxy


@pytest.fixture(autouse=True)
def fresh_upstream(env):
    env.upstream.reset()


def sdk(env, key):
    return openai.OpenAI(api_key=key, base_url=env.base_url, max_retries=0)


def test_getting_started_with_curl(env):
    key = env.create_key(rateLimitOverTime=2, rateLimitUnit="m", costLimitInUsd=0.25)
    response = requests.post(f"{env.base_url}/chat/completions", json=CHAT,
                             headers={"Authorization": f"Bearer {key}"}, timeout=10)  # fmt: skip
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Hello from the fake upstream."
    received = env.upstream.last
    assert received.path == "/v1/chat/completions" and received.json == CHAT
    assert received.headers["authorization"] == "Bearer sk-upstream"
    assert key not in json.dumps(dict(received.headers))
    [event] = env.events(env.last_key["keyId"], 1)
    assert (event.status, event.model, event.provider) == (200, "gpt-4o-mini", "openai")
    assert (event.prompt_token_count, event.completion_token_count) == (10, 20)
    assert event.token_count_source == "provider"
    assert event.cost_micros == 14  # gpt-4o-mini: 10 x $0.15/M + 20 x $0.60/M, rounded up
    assert event.path == "/api/providers/openai/v1/chat/completions" and event.method == "POST"


def test_sdk_non_streaming_and_streaming_report_exact_usage(env):
    key = env.create_key()
    client = sdk(env, key)
    env.upstream.configure(usage={"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10})
    reply = client.chat.completions.create(**CHAT)
    assert reply.usage.prompt_tokens == 7
    env.upstream.configure(usage={"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
                           chunk_count=5)  # fmt: skip
    chunks = list(client.chat.completions.create(**CHAT, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) != ""
    assert all(c.usage is None for c in chunks), "the usage chunk the gateway asked for is hidden"
    assert env.upstream.last.json["stream_options"] == {"include_usage": True}
    with_usage = list(
        client.chat.completions.create(**CHAT, stream=True, stream_options={"include_usage": True})
    )
    assert with_usage[-1].usage.prompt_tokens == 11
    events = env.events(env.last_key["keyId"], 3)
    assert [(e.prompt_token_count, e.completion_token_count) for e in events] == [
        (7, 3),
        (11, 5),
        (11, 5),
    ]
    assert {e.token_count_source for e in events} == {"provider"}
    client.close()


def test_third_call_in_a_minute_gets_429_with_retry_after(env):
    key = env.create_key(rateLimitOverTime=2, rateLimitUnit="m")
    start_of_a_fresh_minute()
    client = sdk(env, key)
    client.chat.completions.create(**CHAT)
    client.chat.completions.create(**CHAT)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(**CHAT)
    response = caught.value.response
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.json()["error"]["message"].startswith("[BricksLLM] key rate limit exceeded")
    assert response.json()["error"]["code"] == "429"
    assert len(env.upstream.requests) == 2
    assert [e.status for e in env.events(env.last_key["keyId"], 3)] == [200, 200, 429]
    client.close()


def test_spend_limit_refuses_once_spent_and_raising_it_lets_the_key_work(env):
    env.upstream.configure(
        usage={"prompt_tokens": 1_000_000, "completion_tokens": 0, "total_tokens": 1_000_000}
    )
    key = env.create_key(costLimitInUsd=0.2)  # one call costs $0.15 with gpt-4o-mini
    client = sdk(env, key)
    client.chat.completions.create(**CHAT)
    client.chat.completions.create(**CHAT)  # $0.15 spent < $0.20: admitted, now $0.30
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(**CHAT)
    assert "total cost limit" in caught.value.response.json()["error"]["message"]
    env.patch_key(env.last_key["keyId"], costLimitInUsd=1.0)
    client.chat.completions.create(**CHAT)
    assert len(env.upstream.requests) == 3
    client.close()


def test_a_model_without_a_price_is_free_unless_a_cost_limit_needs_one(env):
    unknown = {**CHAT, "model": "my-finetune-without-a-price"}
    env.upstream.configure(response_model="my-finetune-without-a-price")
    free_key = env.create_key()
    response = requests.post(f"{env.base_url}/chat/completions", json=unknown,
                             headers={"Authorization": f"Bearer {free_key}"}, timeout=5)  # fmt: skip
    assert response.status_code == 200
    [event] = env.events(env.last_key["keyId"], 1)
    assert (event.model, event.cost_micros, event.prompt_token_count) == (
        "my-finetune-without-a-price",
        0,
        10,
    )

    limited_key = env.create_key(costLimitInUsd=1)
    refused = requests.post(f"{env.base_url}/chat/completions", json=unknown,
                            headers={"Authorization": f"Bearer {limited_key}"}, timeout=5)  # fmt: skip
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == (
        "[BricksLLM] this key has a cost limit and model my-finetune-without-a-price has no price; "
        "add its prices to the provider setting's costMap (promptCostPerModel and "
        "completionCostPerModel, USD per 1K tokens)"
    )
    assert len(env.upstream.requests) == 1  # the refused call went nowhere

    # A price in the setting's costMap (USD per 1K tokens) lets the limited key call it.
    setting_id = env.last_key["settingIds"][0]
    patched = requests.patch(f"{env.gateway.admin}/api/provider-settings/{setting_id}", timeout=5, json={
        "costMap": {"promptCostPerModel": {"my-finetune-without-a-price": 0.01},
                    "completionCostPerModel": {"my-finetune-without-a-price": 0.02}}})  # fmt: skip
    assert patched.status_code == 200, patched.text
    wait_for_config()
    allowed = requests.post(f"{env.base_url}/chat/completions", json=unknown,
                            headers={"Authorization": f"Bearer {limited_key}"}, timeout=5)  # fmt: skip
    assert allowed.status_code == 200
    events = env.events(env.last_key["keyId"], 2)
    assert [(e.status, e.cost_micros) for e in events] == [(400, 0), (200, 10 * 10 + 20 * 20)]


@pytest.mark.parametrize(
    "path", ["/api/providers/openai/v1/nope", "/v1/chat/completions", "/api/providers/unknown/v1/x"]
)
def test_unknown_paths_are_404_and_reach_nothing(env, path):
    key = env.create_key()
    response = requests.post(f"{env.gateway.proxy}{path}", json=CHAT,
                             headers={"Authorization": f"Bearer {key}"}, timeout=5)  # fmt: skip
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "[BricksLLM] route not supported"
    assert env.upstream.requests == []


def test_keys_are_checked_header_by_header(env):
    key = env.create_key()
    url = f"{env.base_url}/chat/completions"
    assert requests.post(url, json=CHAT, headers={"x-api-key": key}, timeout=5).status_code == 200
    assert requests.post(url, json=CHAT, headers={"api-key": key}, timeout=5).status_code == 200
    wrong_first = requests.post(
        url, json=CHAT, headers={"x-api-key": "nope", "Authorization": f"Bearer {key}"}, timeout=5
    )
    assert wrong_first.status_code == 401 and "nope" not in wrong_first.text
    stored_hash = env.last_key["key"]
    assert (
        requests.post(
            url, json=CHAT, headers={"Authorization": f"Bearer {stored_hash}"}, timeout=5
        ).status_code
        == 401
    )
    assert requests.post(url, json=CHAT, timeout=5).status_code == 401


def test_a_key_stored_unhashed_authenticates_by_its_raw_value(env):
    key = env.create_key(isKeyNotHashed=True)
    assert env.last_key["key"] == key  # DECISIONS.md: the stored value, here the raw key
    # A raw key is never sent to the database as a lookup (README): it works from the next
    # refresh, not at once as a hashed key does.
    wait_for_config()
    url = f"{env.base_url}/chat/completions"
    assert requests.post(url, json=CHAT, headers={"x-api-key": key}, timeout=5).status_code == 200
    hashed = hashlib.sha256(key.encode()).hexdigest()
    assert (
        requests.post(url, json=CHAT, headers={"x-api-key": hashed}, timeout=5).status_code == 401
    )
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.status == 200


def test_revoked_and_expired_keys_get_401(env):
    key = env.create_key()
    env.patch_key(env.last_key["keyId"], revoked=True)
    response = requests.post(
        f"{env.base_url}/chat/completions",
        json=CHAT,
        headers={"Authorization": f"Bearer {key}"},
        timeout=5,
    )
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]
    expiring = env.create_key(ttl="1s")
    time.sleep(1.2)
    response = requests.post(
        f"{env.base_url}/chat/completions",
        json=CHAT,
        headers={"Authorization": f"Bearer {expiring}"},
        timeout=5,
    )
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]
    assert env.upstream.requests == []


def test_every_rejection_leaves_exactly_one_event(env):
    key = env.create_key(
        allowedPaths=[{"path": "/api/providers/openai/v1/embeddings", "method": "POST"}]
    )
    run = uuid.uuid4().hex
    calls = {
        "unknown-key": ("/api/providers/openai/v1/chat/completions", "gw-not-a-key", 401),
        "no-key": ("/api/providers/openai/v1/chat/completions", None, 401),
        "forbidden-path": ("/api/providers/openai/v1/chat/completions", key, 403),
        "unknown-route": ("/api/providers/openai/v1/nope", key, 404),
    }
    for name, (path, secret, status) in calls.items():
        headers = {
            "X-CUSTOM-EVENT-ID": f"{run}-{name}",
            **({"x-api-key": secret} if secret else {}),
        }
        response = requests.post(
            f"{env.gateway.proxy}{path}", json=CHAT, headers=headers, timeout=5
        )
        assert response.status_code == status, name
    assert env.upstream.requests == []
    deadline = time.monotonic() + 5
    while True:
        found = {name: requests.get(f"{env.gateway.admin}/api/events", params={"customId": f"{run}-{name}"},
                                    timeout=5).json() for name in calls}  # fmt: skip
        if all(found.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for name, (path, _, status) in calls.items():
        [event] = found[name]
        assert (event["status"], event["path"], event["custom_id"]) == (
            status,
            path,
            f"{run}-{name}",
        ), name
    assert found["forbidden-path"][0]["key_id"] == env.last_key["keyId"]
    assert found["unknown-key"][0]["key_id"] == ""


def test_allowed_paths_and_models_are_403(env):
    key = env.create_key(
        allowedPaths=[{"path": "/api/providers/openai/v1/embeddings", "method": "POST"}]
    )
    response = requests.post(
        f"{env.base_url}/chat/completions",
        json=CHAT,
        headers={"Authorization": f"Bearer {key}"},
        timeout=5,
    )
    assert response.status_code == 403
    key = env.create_key(setting_extra={"allowedModels": ["gpt-4o"]})
    response = requests.post(
        f"{env.base_url}/chat/completions",
        json=CHAT,
        headers={"Authorization": f"Bearer {key}"},
        timeout=5,
    )
    assert response.status_code == 403 and "gpt-4o-mini" in response.json()["error"]["message"]
    assert env.upstream.requests == []


def test_headers_for_one_hop_or_for_the_gateway_stay_and_the_rest_pass_both_ways(env):
    key = env.create_key()
    env.upstream.configure(extra_response_headers={
        "x-request-id": "req-123", "openai-processing-ms": "12", "Connection": "keep-alive, X-Upstream-Hop",
        "X-Upstream-Hop": "for the gateway only", "Proxy-Authenticate": "Basic",
    })  # fmt: skip
    response = requests.post(f"{env.base_url}/chat/completions", json=CHAT, timeout=5, headers={
        "Authorization": f"Bearer {key}", "OpenAI-Organization": "org-1", "X-Client-Tag": "t",
        "Connection": "keep-alive, X-Client-Hop", "X-Client-Hop": "for the gateway only",
        "Proxy-Authorization": "Basic c2VjcmV0", "Cookie": "session=1", "X-Request-Timeout": "30",
        "X-METADATA": "{}", "TE": "trailers",
    })  # fmt: skip
    assert response.status_code == 200
    sent = env.upstream.last.headers
    assert (sent["openai-organization"], sent["x-client-tag"]) == ("org-1", "t")
    assert sent["authorization"] == "Bearer sk-upstream"
    for name in (
        "x-client-hop",
        "proxy-authorization",
        "cookie",
        "x-request-timeout",
        "x-metadata",
        "te",
    ):
        assert name not in sent, name
    # The upstream's own request id passes under another name: X-Request-Id is the gateway's.
    assert (
        response.headers["x-upstream-request-id"],
        response.headers["openai-processing-ms"],
    ) == (
        "req-123",
        "12",
    )
    assert len(response.headers["x-request-id"]) == 32
    assert "X-Upstream-Hop" not in response.headers and "Proxy-Authenticate" not in response.headers


def test_pass_through_keeps_query_multipart_and_upstream_errors(env):
    key = env.create_key()
    headers = {
        "Authorization": f"Bearer {key}",
        "X-CUSTOM-EVENT-ID": "cid-1",
        "X-METADATA": '{"team": "a"}',
    }
    listed = requests.get(f"{env.base_url}/files?purpose=batch&limit=2", headers=headers, timeout=5)
    assert listed.status_code == 200 and env.upstream.last.query == "purpose=batch&limit=2"
    assert "x-custom-event-id" not in env.upstream.last.headers
    upload = requests.post(f"{env.base_url}/files", headers=headers, data={"purpose": "batch"},
                           files={"file": ("data.jsonl", b'{"a": 1}\n', "application/jsonl")}, timeout=5)  # fmt: skip
    assert upload.status_code == 200
    assert env.upstream.last.files["file"].content == b'{"a": 1}\n'
    assert env.upstream.last.body == upload.request.body
    env.upstream.fail_next(429, body={"error": {"message": "upstream says slow down"}})
    failed = requests.post(
        f"{env.base_url}/chat/completions", json=CHAT, headers=headers, timeout=5
    )
    assert (
        failed.status_code == 429 and failed.json()["error"]["message"] == "upstream says slow down"
    )
    events = env.events(env.last_key["keyId"], 3)
    assert [e.status for e in events] == [200, 200, 429]
    assert events[0].custom_id == "cid-1" and events[0].metadata["team"] == "a"
    assert events[2].metadata == {"team": "a", "request_id": failed.headers["X-Request-Id"]}


def test_upstream_dying_mid_stream_ends_with_an_error_event_not_done(env):
    key = env.create_key()
    env.upstream.configure(chunk_count=10, die_mid_stream_after=3)
    response = requests.post(f"{env.base_url}/chat/completions", json={**CHAT, "stream": True},
                             headers={"Authorization": f"Bearer {key}"}, stream=True, timeout=10)  # fmt: skip
    text = response.content.decode()
    assert "[DONE]" not in text and "upstream stream ended early" in text
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.status == 502 and event.completion_token_count > 0


def test_client_disconnect_closes_the_upstream_and_bills_partial_tokens(env):
    key = env.create_key()
    env.upstream.configure(chunk_count=200, chunk_delay_s=0.02)
    body = json.dumps({**CHAT, "stream": True}).encode()
    with socket.create_connection(("127.0.0.1", env.gateway.proxy_port)) as sock:
        sock.sendall(b"POST /api/providers/openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " + key.encode() + b"\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
        received = b""
        while received.count(b"data:") < 5:
            received += sock.recv(65536)
    closed_at = time.monotonic()
    deadline = closed_at + 3
    while not env.upstream.last.closed_early and time.monotonic() < deadline:
        time.sleep(0.02)
    assert env.upstream.last.closed_early
    assert env.upstream.last.closed_early_at - closed_at < 1.0
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.status == 499 and 0 < event.completion_token_count < 200
    assert event.token_count_source == "local"


def test_a_chunked_request_body_reaches_the_upstream_whole(env):
    key = env.create_key()
    body = json.dumps({**CHAT, "messages": [{"role": "user", "content": "x" * 50_000}]}).encode()
    parts = (body[i : i + 8192] for i in range(0, len(body), 8192))  # no Content-Length: chunked
    response = requests.post(f"{env.base_url}/chat/completions", data=parts, timeout=10,
                             headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 200 and response.headers["Content-Length"] == str(
        len(response.content)
    )
    assert env.upstream.last.body == body
