"""Today's pass-through routes through the official SDK methods that call them (stored chat
completions, responses, conversations, uploads, vector stores, fine-tuning, containers, Azure's
Responses API, Anthropic's count_tokens): each reaches the upstream as the SDK sent it and costs
what it should; and an Anthropic stream cut after ten deltas is billed for them."""

from __future__ import annotations

import io

import anthropic
import openai
import pytest

from app.providers.tokens import TokenCounter
from tests.functional.proxy_env import running_proxy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("passthrough")) as proxy:
        yield proxy


@pytest.fixture(autouse=True)
def fresh_upstream(env):
    env.upstream.reset()


@pytest.fixture
def client(env):
    # A key with a cost limit: every call below is free by nature, so it must still pass.
    key = env.create_key(costLimitInUsd=1)
    yield openai.OpenAI(api_key=key, base_url=env.base_url, max_retries=0)


CALLS = [
    ("GET", "/v1/chat/completions", lambda c: c.chat.completions.list()),
    ("GET", "/v1/chat/completions/cc_1", lambda c: c.chat.completions.retrieve("cc_1")),
    ("POST", "/v1/chat/completions/cc_1",
     lambda c: c.chat.completions.update("cc_1", metadata={"a": "b"})),
    ("DELETE", "/v1/chat/completions/cc_1", lambda c: c.chat.completions.delete("cc_1")),
    ("GET", "/v1/chat/completions/cc_1/messages", lambda c: c.chat.completions.messages.list("cc_1")),
    ("GET", "/v1/responses/resp_1", lambda c: c.responses.retrieve("resp_1")),
    ("DELETE", "/v1/responses/resp_1", lambda c: c.responses.delete("resp_1")),
    ("POST", "/v1/responses/resp_1/cancel", lambda c: c.responses.cancel("resp_1")),
    ("GET", "/v1/responses/resp_1/input_items", lambda c: c.responses.input_items.list("resp_1")),
    ("POST", "/v1/responses/input_tokens",
     lambda c: c.responses.input_tokens.count(model="gpt-4o", input="Hi")),
    ("POST", "/v1/conversations", lambda c: c.conversations.create()),
    ("GET", "/v1/conversations/conv_1", lambda c: c.conversations.retrieve("conv_1")),
    ("POST", "/v1/conversations/conv_1",
     lambda c: c.conversations.update("conv_1", metadata={"a": "b"})),
    ("DELETE", "/v1/conversations/conv_1", lambda c: c.conversations.delete("conv_1")),
    ("POST", "/v1/conversations/conv_1/items", lambda c: c.conversations.items.create(
        "conv_1", items=[{"type": "message", "role": "user", "content": "Hi"}])),
    ("GET", "/v1/conversations/conv_1/items", lambda c: c.conversations.items.list("conv_1")),
    ("GET", "/v1/conversations/conv_1/items/msg_1",
     lambda c: c.conversations.items.retrieve("msg_1", conversation_id="conv_1")),
    ("DELETE", "/v1/conversations/conv_1/items/msg_1",
     lambda c: c.conversations.items.delete("msg_1", conversation_id="conv_1")),
    ("POST", "/v1/uploads", lambda c: c.uploads.create(
        bytes=3, filename="a.jsonl", mime_type="text/jsonl", purpose="batch")),
    ("POST", "/v1/uploads/upl_1/parts",
     lambda c: c.uploads.parts.create("upl_1", data=io.BytesIO(b"abc"))),
    ("POST", "/v1/uploads/upl_1/complete", lambda c: c.uploads.complete("upl_1", part_ids=["p1"])),
    ("POST", "/v1/uploads/upl_1/cancel", lambda c: c.uploads.cancel("upl_1")),
    ("GET", "/v1/vector_stores", lambda c: c.vector_stores.list()),
    ("GET", "/v1/vector_stores/vs_1", lambda c: c.vector_stores.retrieve("vs_1")),
    ("POST", "/v1/vector_stores/vs_1", lambda c: c.vector_stores.update("vs_1", name="n")),
    ("DELETE", "/v1/vector_stores/vs_1", lambda c: c.vector_stores.delete("vs_1")),
    ("POST", "/v1/vector_stores/vs_1/search", lambda c: c.vector_stores.search("vs_1", query="q")),
    ("GET", "/v1/vector_stores/vs_1/files", lambda c: c.vector_stores.files.list("vs_1")),
    ("GET", "/v1/fine_tuning/jobs", lambda c: c.fine_tuning.jobs.list()),
    ("GET", "/v1/fine_tuning/jobs/ft_1", lambda c: c.fine_tuning.jobs.retrieve("ft_1")),
    ("POST", "/v1/fine_tuning/jobs/ft_1/cancel", lambda c: c.fine_tuning.jobs.cancel("ft_1")),
    ("GET", "/v1/fine_tuning/jobs/ft_1/events", lambda c: c.fine_tuning.jobs.list_events("ft_1")),
    ("GET", "/v1/containers", lambda c: c.containers.list()),
    ("GET", "/v1/containers/cntr_1", lambda c: c.containers.retrieve("cntr_1")),
    ("DELETE", "/v1/containers/cntr_1", lambda c: c.containers.delete("cntr_1")),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "call"), CALLS, ids=[f"{m} {p}" for m, p, _ in CALLS])
def test_the_sdk_method_reaches_the_upstream_through_the_gateway_for_free(
    env, client, method, path, call
):
    call(client)
    received = env.upstream.last
    assert (received.method, received.path) == (method, path)
    assert received.headers["authorization"] == "Bearer sk-upstream"
    [event] = env.events(env.last_key["keyId"], 1)
    assert (event.status, event.cost_micros, event.path) == (200, 0, f"/api/providers/openai{path}")


BILLED_ELSEWHERE = [
    ("/v1/vector_stores", lambda c: c.vector_stores.create(name="n")),
    ("/v1/fine_tuning/jobs", lambda c: c.fine_tuning.jobs.create(model="gpt-4o-mini", training_file="f")),
    ("/v1/containers", lambda c: c.containers.create(name="c")),
]  # fmt: skip


@pytest.mark.parametrize(("path", "call"), BILLED_ELSEWHERE, ids=[p for p, _ in BILLED_ELSEWHERE])
def test_what_the_provider_bills_out_of_sight_is_refused_under_a_cost_limit_only(
    env, client, path, call
):
    with pytest.raises(openai.BadRequestError) as refused:
        call(client)
    assert path in refused.value.message and "cost limit" in refused.value.message
    assert env.upstream.requests == []
    free = openai.OpenAI(api_key=env.create_key(), base_url=env.base_url, max_retries=0)
    call(free)
    assert env.upstream.last.path == path


def test_azure_responses_api_through_the_azure_client(env):
    key = env.create_key_on(
        [env.create_setting("azure", {"apikey": "az-secret", "resourceName": "r"})]
    )
    azure = openai.AzureOpenAI(api_key=key, api_version="2025-03-01-preview", max_retries=0,
                               azure_endpoint=f"{env.gateway.proxy}/api/providers/azure")  # fmt: skip
    env.upstream.configure(
        usage={"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140}
    )
    reply = azure.responses.create(model="gpt-4o", input="Hi")
    assert reply.output_text == "Hello from the fake upstream."
    received = env.upstream.last
    assert received.path == "/openai/responses" and received.query_params["api-version"] == [
        "2025-03-01-preview"
    ]
    assert received.headers["api-key"] == "az-secret"
    with azure.responses.stream(model="gpt-4o", input="Hi") as stream:
        assert [e.type for e in stream][-1] == "response.completed"
    assert azure.responses.retrieve("resp_1").status == "completed"
    created, streamed, retrieved = env.events(env.last_key["keyId"], 3)
    assert created.cost_micros == 100 * 2.5 + 40 * 10 and created.model == "gpt-4o"
    assert (streamed.status, streamed.error) == (200, "") and streamed.cost_micros > 0
    assert retrieved.cost_micros == 0


# Anthropic ----------------------------------------------------------------------------------------


def anthropic_client(env, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=f"{env.gateway.proxy}/api/providers/anthropic",
                               max_retries=0)  # fmt: skip


def test_anthropic_count_tokens_answers_and_costs_nothing(env):
    key = env.create_key_on(
        [env.create_setting("anthropic", {"apikey": "sk-ant"})], costLimitInUsd=1
    )
    counted = anthropic_client(env, key).messages.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "Hello"}]
    )
    assert counted.input_tokens == 10
    assert env.upstream.last.path == "/v1/messages/count_tokens"
    [event] = env.events(env.last_key["keyId"], 1)
    assert (event.status, event.cost_micros) == (200, 0)


def test_an_anthropic_stream_cut_after_ten_deltas_is_billed_for_them(env, tmp_path_factory):
    key = env.create_key_on([env.create_setting("anthropic", {"apikey": "sk-ant"})])
    env.upstream.configure(chunk_count=30, die_mid_stream_after=10)
    messages = [{"role": "user", "content": "Hi"}]
    client = anthropic_client(env, key)
    with (  # the stream ends with Anthropic's error event
        pytest.raises(anthropic.APIError),
        client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=100, messages=messages
        ) as stream,
    ):
        for _ in stream:
            pass
    [event] = env.events(env.last_key["keyId"], 1)
    relayed = "".join(f"tok{i} " for i in range(10))
    expected = TokenCounter(tmp_path_factory.mktemp("vocab")).count_text(
        "claude-sonnet-4-5", relayed
    )
    assert (event.status, event.token_count_source) == (502, "local")
    assert event.completion_token_count == expected > 1
    assert event.cost_micros > 0
