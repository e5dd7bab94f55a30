"""Provider adapters as pure functions: URLs, key headers, request checks, usage and stream ends."""

from __future__ import annotations

from app.domain.entities import ProviderSetting
from app.providers import sse
from app.providers.anthropic import AnthropicAdapter
from app.providers.azure import AzureAdapter
from app.providers.base import Operation, StreamState
from app.providers.deepinfra import DeepInfraAdapter
from app.providers.registry import adapter_for
from app.providers.vllm import VllmAdapter
from app.proxy.endpoints import EndpointTable as RouteTable


def setting(provider: str, **fields: str) -> ProviderSetting:
    return ProviderSetting(
        id="s", provider=provider, created_at=0, updated_at=0, setting=dict(fields)
    )


def test_every_builtin_provider_has_an_adapter_of_its_name():
    for name in ("openai", "anthropic", "azure", "vllm", "deepinfra"):
        assert adapter_for(name).name == name


def test_routes_resolve_to_their_provider_and_upstream_path():
    table = RouteTable()
    azure = table.match("POST", "/api/providers/azure/openai/deployments/my-dep/embeddings")
    assert azure is not None and (azure.provider, azure.operation) == (
        "azure",
        Operation("embeddings", "/openai/deployments/my-dep/embeddings"),
    )
    assert (
        table.match("POST", "/api/providers/anthropic/v1/complete").operation.kind == "completions"
    )
    assert table.match("POST", "/api/providers/vllm/v1/embeddings") is None
    assert table.match("GET", "/api/providers/anthropic/v1/messages") is None


def test_azure_url_key_header_and_api_version():
    adapter, op = AzureAdapter(), Operation("chat", "/openai/deployments/dep1/chat/completions")
    assert adapter.upstream_url(
        setting("azure", resourceName="res", apikey="k"), op, "api-version=2024-10-21"
    ) == (
        "https://res.openai.azure.com/openai/deployments/dep1/chat/completions?api-version=2024-10-21"
    )
    assert adapter.upstream_url(
        setting("azure", url="http://10.0.0.5:9000/base/"), op, "api-version=1"
    ) == ("http://10.0.0.5:9000/base/openai/deployments/dep1/chat/completions?api-version=1")
    assert adapter.auth_headers(setting("azure", apikey="k")) == {"api-key": "k"}
    assert (
        adapter.check_request("")
        and adapter.check_request("api-version=")
        and not adapter.check_request("api-version=1")
    )
    assert (
        adapter.request_model(op, {}) == "dep1"
        and adapter.request_model(op, {"model": "gpt-4o"}) == "gpt-4o"
    )


def test_deepinfra_and_vllm_urls_and_credentials():
    op = Operation("chat", "/v1/chat/completions")
    assert DeepInfraAdapter().upstream_url(setting("deepinfra", apikey="k"), op, "") == (
        "https://api.deepinfra.com/v1/openai/chat/completions"
    )
    assert (
        VllmAdapter().upstream_url(setting("vllm", url="http://gpu:8000"), op, "a=1")
        == "http://gpu:8000/v1/chat/completions?a=1"
    )
    assert VllmAdapter().auth_headers(setting("vllm", url="http://gpu:8000")) == {}
    assert VllmAdapter().auth_headers(setting("vllm", apikey="t")) == {"Authorization": "Bearer t"}


def test_anthropic_usage_counts_cache_reads_and_writes_as_prompt_tokens():
    adapter = AnthropicAdapter()
    usage = adapter.usage_from_body(
        Operation("chat", "/v1/messages"),
        {
            "usage": {
                "input_tokens": 5,
                "output_tokens": 7,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 20,
            }
        },
    )
    assert usage is not None
    assert (
        usage.prompt_tokens,
        usage.cached_prompt_tokens,
        usage.cache_write_tokens,
        usage.completion_tokens,
    ) == (125, 100, 20, 7)
    assert (
        adapter.request_user({"metadata": {"user_id": "u1"}}) == "u1"
        and adapter.request_user({"user": "x"}) == ""
    )


def test_anthropic_stream_usage_from_message_start_and_last_delta():
    adapter, state = AnthropicAdapter(), StreamState()
    adapter.observe_stream_event(state, {"type": "message_start", "message": {"model": "claude-3-haiku-20240307",
                                 "usage": {"input_tokens": 9, "output_tokens": 1}}})  # fmt: skip
    adapter.observe_stream_event(
        state, {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi"}}
    )
    adapter.observe_stream_event(state, {"type": "message_delta", "usage": {"output_tokens": 4}})
    adapter.observe_stream_event(state, {"type": "message_delta", "usage": {"output_tokens": 6}})
    assert state.model == "claude-3-haiku-20240307" and state.completion_parts == ["Hi"]
    assert state.usage is not None and (
        state.usage.prompt_tokens,
        state.usage.completion_tokens,
    ) == (9, 6)


def test_stream_ends():
    anthropic, openai_like = AnthropicAdapter(), DeepInfraAdapter()
    assert anthropic.is_stream_end(b'{"type":"message_stop"}')
    assert not anthropic.is_stream_end(
        b'{"type":"content_block_delta","delta":{"text":"say \\"message_stop\\""}}'
    )
    assert anthropic.is_stream_end(
        b'{"type":"completion","completion":"","stop_reason":"stop_sequence"}'
    )
    assert not anthropic.is_stream_end(
        b'{"type":"completion","completion":" Hi","stop_reason":null}'
    )
    assert openai_like.is_stream_end(sse.DONE) and not openai_like.is_stream_end(b"{}")
    assert anthropic.stream_error.startswith(b"event: error\n")
