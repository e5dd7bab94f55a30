"""Anthropic, Azure OpenAI, vLLM and DeepInfra end to end: official SDKs through a real gunicorn
gateway to the fake upstream; assertions on the upstream's log (URL, key header, body, never the
gateway key), what the client got, and the event row."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
import requests

from tests.functional.proxy_env import running_proxy, start_of_a_fresh_minute

pytestmark = pytest.mark.slow

TOOLS = [{
    "name": "get_weather",
    "description": "Weather of a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}]  # fmt: skip
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
IMAGE_BLOCK = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": PIXEL},
}
MESSAGES = [
    {"role": "user", "content": [{"type": "text", "text": "What is in this image?"}, IMAGE_BLOCK]}
]
SYSTEM = [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("providers")) as proxy:
        yield proxy


@pytest.fixture(autouse=True)
def fresh_upstream(env):
    env.upstream.reset()


def provider_key(env, provider: str, setting: dict, **key_fields) -> str:
    return env.create_key_on([env.create_setting(provider, setting)], **key_fields)


def assert_never_forwarded(env, key: str) -> None:
    for received in env.upstream.requests:
        assert key not in json.dumps(dict(received.headers)) and key.encode() not in received.body


# Anthropic ----------------------------------------------------------------------------------------


def anthropic_client(env, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=f"{env.gateway.proxy}/api/providers/anthropic", max_retries=0,
                               default_headers={"anthropic-version": "2023-06-01"})  # fmt: skip


def test_anthropic_sdk_message_with_system_tools_and_image(env):
    key = provider_key(env, "anthropic", {"apikey": "sk-ant-upstream"})
    env.upstream.configure(usage={"prompt_tokens": 30, "completion_tokens": 12})
    message = anthropic_client(env, key).messages.create(
        model="claude-3-5-haiku-20241022", max_tokens=64, system=SYSTEM, tools=TOOLS,
        messages=MESSAGES, metadata={"user_id": "user-7"},
    )  # fmt: skip
    assert message.content[0].text == "Hello from the fake upstream."
    received = env.upstream.last
    assert received.path == "/v1/messages"
    assert received.headers["x-api-key"] == "sk-ant-upstream"
    assert received.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in received.headers
    assert received.json["system"] == SYSTEM and received.json["tools"] == TOOLS
    assert received.json["messages"] == MESSAGES and received.json["metadata"] == {
        "user_id": "user-7"
    }
    assert_never_forwarded(env, key)
    [event] = env.events(env.last_key["keyId"], 1)
    assert (event.provider, event.model, event.status, event.user_id) == (
        "anthropic",
        "claude-3-5-haiku-20241022",
        200,
        "user-7",
    )
    assert (event.prompt_token_count, event.completion_token_count) == (30, 12)
    assert event.cost_micros == 72  # claude-3-5-haiku: 30 x $0.80/M + 12 x $4/M = 72 micro-dollars


def test_anthropic_sdk_stream_keeps_event_names_and_records_usage(env):
    key = provider_key(env, "anthropic", {"apikey": "sk-ant-upstream"})
    env.upstream.configure(usage={"prompt_tokens": 21, "completion_tokens": 9}, chunk_count=4)
    client = anthropic_client(env, key)
    with client.messages.stream(model="claude-sonnet-4-20250514", max_tokens=64, system="Be brief.",
                                messages=[{"role": "user", "content": "hi"}], tools=TOOLS) as stream:  # fmt: skip
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert {"content_block_delta", "message_delta"} <= set(kinds)
    assert final.usage.input_tokens == 21 and final.usage.output_tokens == 9
    assert (
        env.upstream.last.json["stream"] is True and env.upstream.last.json["system"] == "Be brief."
    )
    [event] = env.events(env.last_key["keyId"], 1)
    assert (event.prompt_token_count, event.completion_token_count, event.token_count_source) == (
        21,
        9,
        "provider",
    )
    assert event.cost_micros == 198  # claude-sonnet-4: 21 x $3/M + 9 x $15/M


def test_anthropic_body_is_forwarded_byte_for_byte_with_the_key_from_authorization(env):
    key = provider_key(env, "anthropic", {"apikey": "sk-ant-upstream"})
    body = b'{"model":"claude-3-haiku-20240307",  "max_tokens":5,"messages":[{"role":"user","content":"hi"}],"x_unknown":{"kept":[1,2]}}'
    response = requests.post(f"{env.gateway.proxy}/api/providers/anthropic/v1/messages", data=body,
                             headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                                      "anthropic-version": "2023-06-01", "anthropic-beta": "prompt-caching-2024-07-31"},
                             timeout=10)  # fmt: skip
    assert response.status_code == 200
    received = env.upstream.last
    assert received.body == body
    assert received.headers["anthropic-beta"] == "prompt-caching-2024-07-31"
    assert received.headers["x-api-key"] == "sk-ant-upstream"
    assert_never_forwarded(env, key)


def test_anthropic_rate_limit_applies_as_for_openai(env):
    key = provider_key(
        env, "anthropic", {"apikey": "sk-ant-upstream"}, rateLimitOverTime=1, rateLimitUnit="m"
    )
    start_of_a_fresh_minute()
    client = anthropic_client(env, key)
    client.messages.create(
        model="claude-3-haiku-20240307", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(
            model="claude-3-haiku-20240307",
            max_tokens=5,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert caught.value.response.headers["Retry-After"]
    assert len(env.upstream.requests) == 1


# Azure OpenAI -------------------------------------------------------------------------------------


def azure_client(env, key: str) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(api_key=key, api_version="2024-10-21", max_retries=0,
                              azure_endpoint=f"{env.gateway.proxy}/api/providers/azure")  # fmt: skip


def test_azure_client_chat_streaming_and_not_and_embeddings(env):
    key = provider_key(env, "azure", {"apikey": "az-upstream", "resourceName": "myresource"})
    client = azure_client(env, key)
    env.upstream.configure(
        response_model="gpt-4o-2024-08-06", usage={"prompt_tokens": 12, "completion_tokens": 8}
    )
    reply = client.chat.completions.create(
        model="chat-dep", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "Hello from the fake upstream."
    received = env.upstream.last
    assert received.path == "/openai/deployments/chat-dep/chat/completions"
    assert received.query_params["api-version"] == ["2024-10-21"]
    assert received.headers["api-key"] == "az-upstream" and "authorization" not in received.headers
    chunks = list(client.chat.completions.create(model="chat-dep", stream=True,
                                                 messages=[{"role": "user", "content": "hi"}]))  # fmt: skip
    assert all(chunk.usage is None for chunk in chunks), (
        "the usage chunk the gateway asked for is hidden"
    )
    env.upstream.configure(response_model="text-embedding-3-small", usage={"prompt_tokens": 50})
    embedded = client.embeddings.create(model="embed-dep", input="hello")
    assert len(embedded.data[0].embedding) == 8
    assert env.upstream.last.path == "/openai/deployments/embed-dep/embeddings"
    assert_never_forwarded(env, key)
    events = env.events(env.last_key["keyId"], 3)
    assert [
        (e.model, e.prompt_token_count, e.completion_token_count, e.cost_micros) for e in events
    ] == [
        ("gpt-4o-2024-08-06", 12, 8, 110),  # 12 x $2.50/M + 8 x $10/M
        ("gpt-4o-2024-08-06", 12, 8, 110),
        ("text-embedding-3-small", 50, 0, 1),  # 50 x $0.02/M, rounded up
    ]


def test_azure_without_api_version_is_400_and_reaches_nothing(env):
    key = provider_key(env, "azure", {"apikey": "az-upstream", "resourceName": "myresource"})
    response = requests.post(f"{env.gateway.proxy}/api/providers/azure/openai/deployments/d/chat/completions",
                             json={"messages": []}, headers={"api-key": key}, timeout=10)  # fmt: skip
    assert response.status_code == 400
    assert "api-version" in response.json()["error"]["message"]
    assert env.upstream.requests == []


# vLLM and DeepInfra -------------------------------------------------------------------------------


def test_openai_sdk_on_vllm_without_apikey_sends_no_credential(env):
    key = provider_key(env, "vllm", {})
    client = openai.OpenAI(
        api_key=key, base_url=f"{env.gateway.proxy}/api/providers/vllm/v1", max_retries=0
    )
    reply = client.chat.completions.create(
        model="my-llama", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content
    chunks = list(client.completions.create(model="my-llama", prompt="hi", stream=True))
    assert chunks
    assert [r.path for r in env.upstream.requests] == ["/v1/chat/completions", "/v1/completions"]
    assert all("authorization" not in r.headers for r in env.upstream.requests)
    assert_never_forwarded(env, key)
    events = env.events(env.last_key["keyId"], 2)
    assert [e.cost_micros for e in events] == [0, 0]  # self-hosted and not in any costMap


def test_openai_sdk_on_vllm_with_apikey_and_cost_map(env):
    setting = env.create_setting("vllm", {"apikey": "vllm-secret"},
                                 costMap={"promptCostPerModel": {"my-llama": 1}, "completionCostPerModel": {"my-llama": 2}})  # fmt: skip
    key = env.create_key_on([setting])
    client = openai.OpenAI(
        api_key=key, base_url=f"{env.gateway.proxy}/api/providers/vllm/v1", max_retries=0
    )
    client.chat.completions.create(model="my-llama", messages=[{"role": "user", "content": "hi"}])
    assert env.upstream.last.headers["authorization"] == "Bearer vllm-secret"
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.cost_micros == 50_000  # 10 x $1/1K + 20 x $2/1K


def test_openai_sdk_on_deepinfra(env):
    key = provider_key(env, "deepinfra", {"apikey": "di-secret"})
    client = openai.OpenAI(
        api_key=key, base_url=f"{env.gateway.proxy}/api/providers/deepinfra/v1", max_retries=0
    )
    model = "meta-llama/Meta-Llama-3.1-8B-Instruct"
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    list(
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    client.embeddings.create(model="BAAI/bge-large-en-v1.5", input=["a", "b"])
    assert [r.path for r in env.upstream.requests] == [
        "/v1/openai/chat/completions",
        "/v1/openai/chat/completions",
        "/v1/openai/embeddings",
    ]
    assert {r.headers["authorization"] for r in env.upstream.requests} == {"Bearer di-secret"}
    assert_never_forwarded(env, key)
    events = env.events(env.last_key["keyId"], 3)
    assert [e.cost_micros for e in events] == [2, 2, 1]  # 10 x $0.03/M + 20 x $0.05/M; 10 x $0.01/M


def test_rotation_takes_secret_and_url_from_the_same_setting(env):
    first = env.create_setting("deepinfra", {"apikey": "di-a", "url": env.upstream.url + "/a"})
    second = env.create_setting("deepinfra", {"apikey": "di-b", "url": env.upstream.url + "/b"})
    key = env.create_key_on([first, second], rotationEnabled=True)
    for _ in range(24):
        response = requests.post(f"{env.gateway.proxy}/api/providers/deepinfra/v1/chat/completions",
                                 json={"model": "m", "messages": []}, headers={"x-api-key": key}, timeout=10)  # fmt: skip
        assert response.status_code == 200
    used = {(r.path.split("/")[1], r.headers["authorization"]) for r in env.upstream.requests}
    assert used == {("a", "Bearer di-a"), ("b", "Bearer di-b")}


# Wrong provider, unknown provider ---------------------------------------------------------------------


def test_a_setting_never_answers_another_providers_path(env):
    key = provider_key(env, "deepinfra", {"apikey": "di-secret"})
    response = requests.post(f"{env.gateway.proxy}/api/providers/openai/v1/chat/completions",
                             json={"model": "gpt-4o-mini", "messages": []}, headers={"x-api-key": key}, timeout=10)  # fmt: skip
    assert response.status_code == 401
    assert "openai" in response.json()["error"]["message"] and key not in response.text
    assert env.upstream.requests == []


@pytest.mark.parametrize("path", ["/api/providers/mistral/v1/chat/completions", "/api/providers/anthropic/v1/chat/completions",
                                  "/api/providers/azure/openai/deployments/d/images/generations"])  # fmt: skip
def test_unknown_provider_or_operation_is_404_and_reaches_nothing(env, path):
    key = provider_key(env, "anthropic", {"apikey": "sk-ant-upstream"})
    response = requests.post(
        f"{env.gateway.proxy}{path}?api-version=1", json={}, headers={"x-api-key": key}, timeout=10
    )
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "[BricksLLM] route not supported"
    assert env.upstream.requests == []


def test_unpriced_self_hosted_model_under_a_cost_limit_is_refused(env):
    key = provider_key(env, "vllm", {}, costLimitInUsd=1)
    response = requests.post(f"{env.gateway.proxy}/api/providers/vllm/v1/chat/completions",
                             json={"model": "my-llama", "messages": []}, headers={"x-api-key": key}, timeout=10)  # fmt: skip
    assert response.status_code == 400 and "my-llama" in response.json()["error"]["message"]
    assert env.upstream.requests == []


def test_anthropic_stream_cut_mid_way_ends_with_an_anthropic_error_event(env):
    key = provider_key(env, "anthropic", {"apikey": "sk-ant-upstream"})
    env.upstream.configure(chunk_count=6, die_mid_stream_after=2)
    body = {"model": "claude-3-haiku-20240307", "max_tokens": 50, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    with requests.post(f"{env.gateway.proxy}/api/providers/anthropic/v1/messages", json=body,
                       headers={"x-api-key": key}, stream=True, timeout=10) as response:  # fmt: skip
        text = b"".join(response.iter_content(None)).decode()
    assert "event: message_stop" not in text
    assert text.endswith('event: error\ndata: {"type":"error","error":{"type":"api_error",'
                         '"message":"[BricksLLM] upstream stream ended early"}}\n\n')  # fmt: skip
    [event] = env.events(env.last_key["keyId"], 1)
    # Cut before message_delta: message_start's exact input tokens, and the two deltas relayed
    # counted locally (issue 13), not message_start's one output token.
    assert event.status == 502 and event.token_count_source == "local"
    assert event.prompt_token_count == 10 and event.completion_token_count == 5  # "tok0 tok1 "


def test_anthropic_legacy_completion_is_counted_locally(env):
    key = provider_key(env, "anthropic", {"apikey": "sk-ant-upstream"})
    env.upstream.script("/v1/complete", lambda _req: {
        "type": "completion", "completion": " Paris is the capital of France.", "stop_reason": "stop_sequence",
        "model": "claude-2.1"})  # fmt: skip
    response = requests.post(f"{env.gateway.proxy}/api/providers/anthropic/v1/complete", headers={"x-api-key": key},
                             json={"model": "claude-2.1", "max_tokens_to_sample": 20,
                                   "prompt": "\n\nHuman: What is the capital of France?\n\nAssistant:"}, timeout=10)  # fmt: skip
    assert response.status_code == 200 and response.json()["completion"].startswith(" Paris")
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.token_count_source == "local"
    assert event.prompt_token_count > 5 and event.completion_token_count == 7
    # claude-2.1: $8/M prompt, $24/M completion, rounded up once
    assert event.cost_micros == event.prompt_token_count * 8 + 7 * 24
