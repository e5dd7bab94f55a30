"""The custom adapter against a real HTTP upstream, through the proxy's own upstream seam.

The pipeline wiring is not here (see app/providers/custom.py); these tests make the calls it will
make (upstream_url, auth_headers + forward_headers, UpstreamPool, readline per SSE event) and check
what the fake upstream received and what the adapter counted.
"""

from __future__ import annotations

import json

import orjson
import pytest

from app.domain.custom_providers import RouteConfig
from app.domain.entities import CustomProvider, ProviderSetting
from app.providers import sse
from app.providers.base import StreamState
from app.providers.custom import CustomAdapter, route_for, split_custom_path
from app.providers.tokens import TokenCounter
from app.proxy.upstream import UpstreamPool, UpstreamRequest, forward_headers
from tests.fakes.upstream import SSE_HEADERS, FakeUpstream, Reply

SECRET = "custom-upstream-secret"
GATEWAY_KEY = "bricks-gateway-key"
TGI_REQUEST = {"inputs": "Once upon a time", "parameters": {"model_id": "llama-3-8b", "stream": False}}


@pytest.fixture(scope="module")
def upstream():
    with FakeUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> TokenCounter:
    return TokenCounter(tmp_path_factory.mktemp("vocab"))


@pytest.fixture
def pool():
    p = UpstreamPool(connect_timeout_s=2, read_timeout_s=5)
    yield p
    p.close()


def _provider(upstream, auth: str) -> CustomProvider:
    route = {
        "path": "/generate",
        "target_url": f"{upstream.url}/tgi/generate?version=2",
        "model_location": "parameters.model_id",
        "request_prompt_location": "inputs",
        "response_completion_location": "generated_text",
        "stream_location": "parameters.stream",
        "stream_end_word": "END",
        "stream_response_completion_location": "token.text",
    }
    return CustomProvider(id="p", provider="tgi", created_at=1, updated_at=1,
                          route_configs=(route,), authentication_param=auth)  # fmt: skip


def _send(pool, upstream, tokens, request_body, auth="", query=""):
    provider = _provider(upstream, auth)
    name, rest = split_custom_path("/api/custom/providers/tgi/generate")
    route = route_for(provider, rest)
    assert name == "tgi" and isinstance(route, RouteConfig)
    adapter = CustomAdapter(provider, route, tokens, request_body)
    setting = ProviderSetting(id="s", provider="tgi", created_at=1, updated_at=1, setting={"apikey": SECRET})
    client_headers = {"Authorization": f"Bearer {GATEWAY_KEY}", "Content-Type": "application/json"}
    response = pool.send(UpstreamRequest(
        method="POST",
        url=adapter.upstream_url(setting, adapter.operation, query),
        headers=forward_headers(client_headers, adapter.auth_headers(setting)),
        body=orjson.dumps(request_body),
        timeout_s=5,
    ))  # fmt: skip
    return adapter, response


def test_a_body_answer_reaches_the_target_with_the_secret_header(pool, upstream, tokens):
    upstream.script("/tgi/generate", lambda req: {"generated_text": "Once there was a dragon."})
    adapter, response = _send(pool, upstream, tokens, TGI_REQUEST, auth="x-api-token", query="trace=1")
    body = response.read()
    response.release()
    received = upstream.last
    assert received.path == "/tgi/generate" and received.query_params == {"version": ["2"], "trace": ["1"]}
    assert received.headers["x-api-token"] == SECRET
    assert "authorization" not in received.headers  # the gateway key never reaches the upstream
    assert received.json == TGI_REQUEST
    usage = adapter.usage_from_body(adapter.operation, json.loads(body))
    assert usage is not None and usage.source == "local"
    assert usage.prompt_tokens == tokens.count_text("llama-3-8b", "Once upon a time")
    assert usage.completion_tokens == tokens.count_text("llama-3-8b", "Once there was a dragon.")
    assert adapter.model == "llama-3-8b" and adapter.wants_stream is False


def test_without_authentication_param_the_secret_is_a_bearer_token(pool, upstream, tokens):
    upstream.script("/tgi/generate", lambda req: {"generated_text": "ok"})
    _, response = _send(pool, upstream, tokens, TGI_REQUEST)
    response.read()
    response.release()
    assert upstream.last.headers["authorization"] == f"Bearer {SECRET}"


def test_a_stream_is_read_event_by_event_until_the_end_word(pool, upstream, tokens):
    texts = ["Once", " there", " was", " a", " dragon"]
    events = [b"data: " + orjson.dumps({"token": {"text": t}}) + b"\n\n" for t in texts]
    chunks = [b": ping\n\n", *events, b"data: END\n\n"]
    upstream.script("/tgi/generate", lambda req: Reply(headers=dict(SSE_HEADERS), chunks=chunks))
    streamed = {**TGI_REQUEST, "parameters": {"model_id": "llama-3-8b", "stream": True}}
    adapter, response = _send(pool, upstream, tokens, streamed)
    assert adapter.wants_stream is True
    assert "text/event-stream" in response.get("content-type")
    state, relayed, ended = StreamState(), [], False
    while not ended:
        raw = response.readline(b"\n\n")
        assert raw, "the stream closed before the end word"
        relayed.append(raw)
        data = sse.event_data(raw)
        ended = data is not None and adapter.observe_stream_data(state, data)
    response.release()
    assert relayed[-1] == b"data: END\n\n" and len(relayed) == len(chunks)
    assert "".join(state.completion_parts) == "Once there was a dragon"
    assert state.usage is not None and state.usage.source == "local"
    assert state.usage.completion_tokens == sum(tokens.count_text("llama-3-8b", t) for t in texts)
    assert state.usage.prompt_tokens == tokens.count_text("llama-3-8b", "Once upon a time")
