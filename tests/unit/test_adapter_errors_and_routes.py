"""Adapters as pure functions: the gateway's errors in each provider's shape (read by the official
SDKs as their own), the pass-through routes of today's APIs and what each costs, what cannot be
priced under a cost limit, and an Anthropic stream cut before its final usage."""

from __future__ import annotations

import anthropic
import httpx2 as httpx
import openai
import pytest

from app.providers import sse
from app.providers.anthropic import AnthropicAdapter
from app.providers.base import Operation, OperationKind, StreamState, Usage, cut_stream_usage
from app.providers.costs import Pricer
from app.providers.openai import OpenAIAdapter
from app.providers.registry import adapter_for, adapter_for_path
from app.providers.tokens import TokenCounter
from app.proxy import relay
from app.proxy.endpoints import EndpointTable
from tests.fakes.upstream import split_sse_events

ANTHROPIC_CLASSES = [
    (400, anthropic.BadRequestError, "invalid_request_error"),
    (401, anthropic.AuthenticationError, "authentication_error"),
    (403, anthropic.PermissionDeniedError, "permission_error"),
    (404, anthropic.NotFoundError, "not_found_error"),
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (502, anthropic.InternalServerError, "api_error"),
    (503, anthropic.ServiceUnavailableError, "api_error"),
]


def sdk_error(client, status: int, body: dict):
    request = httpx.Request("POST", "http://gateway/v1/messages")
    return client._make_status_error_from_response(
        httpx.Response(status, json=body, request=request)
    )


@pytest.mark.parametrize(("status", "error_class", "error_type"), ANTHROPIC_CLASSES)
def test_anthropic_clients_raise_their_own_class_on_gateway_errors(status, error_class, error_type):
    body = AnthropicAdapter().error_body(status, "key cost limit reached", "rate_limit_error")
    assert body == {"type": "error", "error": {
        "type": error_type, "message": "[BricksLLM] key cost limit reached", "code": str(status)}}  # fmt: skip
    error = sdk_error(anthropic.Anthropic(api_key="k"), status, body)
    assert isinstance(error, error_class)  # 503: ServiceUnavailableError, an InternalServerError
    assert error.body["error"]["type"] == error_type
    assert "[BricksLLM] key cost limit reached" in error.message


@pytest.mark.parametrize("provider", ["openai", "azure", "vllm", "deepinfra"])
def test_openai_shaped_providers_keep_openai_error_shape(provider):
    body = adapter_for(provider).error_body(429, "key rate limit exceeded", "rate_limit_error")
    assert body == {"error": {"code": "429", "message": "[BricksLLM] key rate limit exceeded",
                              "type": "rate_limit_error"}}  # fmt: skip
    error = sdk_error(openai.OpenAI(api_key="k"), 429, body)
    assert type(error) is openai.RateLimitError and error.code == "429"


OPENAI = "/api/providers/openai"
ROUTES = [
    ("POST", f"{OPENAI}/v1/responses", "responses"),
    ("POST", f"{OPENAI}/v1/responses/compact", "responses"),
    ("POST", f"{OPENAI}/v1/responses/input_tokens", "other"),
    ("GET", f"{OPENAI}/v1/responses/resp_1", "other"),
    ("DELETE", f"{OPENAI}/v1/responses/resp_1", "other"),
    ("POST", f"{OPENAI}/v1/responses/resp_1/cancel", "other"),
    ("GET", f"{OPENAI}/v1/responses/resp_1/input_items", "other"),
    ("GET", f"{OPENAI}/v1/chat/completions", "other"),
    ("GET", f"{OPENAI}/v1/chat/completions/chatcmpl-1", "other"),
    ("POST", f"{OPENAI}/v1/chat/completions/chatcmpl-1", "other"),
    ("DELETE", f"{OPENAI}/v1/chat/completions/chatcmpl-1", "other"),
    ("GET", f"{OPENAI}/v1/chat/completions/chatcmpl-1/messages", "other"),
    ("POST", f"{OPENAI}/v1/chat/completions", "chat"),
    ("POST", f"{OPENAI}/v1/conversations", "other"),
    ("POST", f"{OPENAI}/v1/conversations/conv_1/items", "other"),
    ("DELETE", f"{OPENAI}/v1/conversations/conv_1/items/msg_1", "other"),
    ("POST", f"{OPENAI}/v1/uploads", "other"),
    ("POST", f"{OPENAI}/v1/uploads/upload_1/parts", "other"),
    ("POST", f"{OPENAI}/v1/uploads/upload_1/complete", "other"),
    ("POST", f"{OPENAI}/v1/vector_stores", "unpriced"),
    ("POST", f"{OPENAI}/v1/vector_stores/vs_1/search", "other"),
    ("POST", f"{OPENAI}/v1/vector_stores/vs_1/files", "unpriced"),
    ("POST", f"{OPENAI}/v1/fine_tuning/jobs", "unpriced"),
    ("GET", f"{OPENAI}/v1/fine_tuning/jobs/ftjob_1/events", "other"),
    ("POST", f"{OPENAI}/v1/containers", "unpriced"),
    ("GET", f"{OPENAI}/v1/containers/cntr_1/files/f_1/content", "other"),
    ("POST", f"{OPENAI}/v1/batches", "unpriced"),
    ("POST", f"{OPENAI}/v1/threads/thread_1/runs", "unpriced"),
    ("POST", f"{OPENAI}/v1/images/generations", "image"),
    ("POST", "/api/providers/azure/openai/responses", "responses"),
    ("GET", "/api/providers/azure/openai/v1/responses/resp_1", "other"),
    ("POST", "/api/providers/anthropic/v1/messages/count_tokens", "other"),
]


@pytest.mark.parametrize(("method", "path", "kind"), ROUTES)
def test_todays_api_paths_are_routed_with_their_operation_kind(method, path, kind):
    endpoint = EndpointTable().match(method, path)
    assert endpoint is not None and endpoint.operation.kind is OperationKind(kind)


@pytest.fixture(scope="module")
def pricer(tmp_path_factory) -> Pricer:
    return Pricer(TokenCounter(tmp_path_factory.mktemp("vocab")))


def test_unpriced_reason_names_what_cannot_be_priced_and_the_fix(pricer):
    table = OpenAIAdapter().prices

    def reason(kind: OperationKind, model: str, path: str = "/v1/x") -> str | None:
        return pricer.unpriced_reason(Operation(kind, path), model, {}, None, table)

    assert reason(OperationKind.OTHER, "") is None  # free by nature
    assert "/v1/batches" in (reason(OperationKind.UNPRICED, "", "/v1/batches") or "")
    assert reason(OperationKind.CHAT, "") == (
        "the request names no model, so it cannot be priced; name the model"
    )
    assert "costMap (promptCostPerModel" in (reason(OperationKind.RESPONSES, "my-model") or "")
    assert "embeddingsCostPerModel" in (reason(OperationKind.EMBEDDINGS, "my-embedder") or "")
    assert "no built-in price for images" in (reason(OperationKind.IMAGE, "my-painter") or "")
    for kind, model in [(OperationKind.IMAGE, "gpt-image-1"), (OperationKind.IMAGE, "dall-e-3"),
                        (OperationKind.TRANSCRIPTION, "gpt-4o-mini-transcribe"),
                        (OperationKind.SPEECH, "gpt-4o-mini-tts"), (OperationKind.RESPONSES, "o3")]:  # fmt: skip
        assert reason(kind, model) is None, model
    assert reason(OperationKind.CHAT, "whisper-1") is not None  # priced only for what it does


ANTHROPIC_STREAM = b"".join(
    [
        b'event: message_start\ndata: {"type":"message_start","message":{"model":"claude-sonnet-4-5",'
        b'"usage":{"input_tokens":25,"cache_read_input_tokens":100,"output_tokens":1}}}\n\n',
        *(
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
            b'"delta":{"type":"text_delta","text":"word%d "}}\n\n' % i
            for i in range(10)
        ),
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
        b'"usage":{"output_tokens":20}}\n\n',
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ]
)


def observe(adapter, events: list[bytes]) -> StreamState:
    """The relay's own reading: usage-looking events at once, the rest when the stream ends
    without usage (relay._stream_outcome)."""
    state = StreamState()
    for raw in events:
        relay._observe(adapter, state, sse.event_data(raw), hide_usage=False)
    relay._stream_outcome(adapter, state, 200, "")
    return state


def test_an_anthropic_stream_cut_before_message_delta_leaves_its_text_to_count():
    events, _ = split_sse_events(ANTHROPIC_STREAM)
    cut = observe(AnthropicAdapter(), events[:11])  # message_start and ten deltas
    assert cut.usage is None  # not the one output token of message_start
    assert cut.started_usage is not None and cut.started_usage.prompt_tokens == 125
    assert "".join(cut.completion_parts) == "".join(f"word{i} " for i in range(10))
    whole = observe(AnthropicAdapter(), events)
    assert whole.usage is not None
    assert (whole.usage.prompt_tokens, whole.usage.completion_tokens) == (125, 20)
    assert whole.usage.cached_prompt_tokens == 100 and whole.model == "claude-sonnet-4-5"


def test_a_cut_stream_keeps_the_announced_input_and_counts_the_output_relayed():
    events, _ = split_sse_events(ANTHROPIC_STREAM)
    cut = observe(AnthropicAdapter(), events[:11])
    local = Usage(prompt_tokens=9, completion_tokens=30, source="local")
    usage = cut_stream_usage(cut.started_usage, local)
    assert (usage.prompt_tokens, usage.cached_prompt_tokens, usage.completion_tokens) == (
        125,
        100,
        30,
    )
    assert usage.source == "local"
    assert cut_stream_usage(None, local) is local  # nothing announced (OpenAI): the local count


def test_an_error_before_routing_takes_the_shape_of_the_provider_path_it_was_sent_to():
    anthropic_path = adapter_for_path("/api/providers/anthropic/v1/unknown")
    assert anthropic_path is not None and anthropic_path.name == "anthropic"
    assert (
        anthropic_path.error_body(404, "route not supported", "not_found_error")["type"] == "error"
    )
    assert adapter_for_path("/api/providers/anthropicx/v1/messages") is None
    assert adapter_for_path("/api/custom/providers/x/chat") is None  # OpenAI's shape by default


@pytest.mark.parametrize(
    ("event", "kind", "tokens"),
    [
        ({"type": "speech.audio.done", "usage": {"input_tokens": 12, "output_tokens": 900}},
         OperationKind.SPEECH, (12, 900)),
        ({"type": "transcript.text.done", "text": "hi", "usage": {
            "type": "tokens", "input_tokens": 120, "output_tokens": 30,
            "input_token_details": {"text_tokens": 20, "audio_tokens": 100}}},
         OperationKind.TRANSCRIPTION, (120, 30)),
        ({"type": "image_generation.completed", "b64_json": "", "usage": {
            "input_tokens": 50, "output_tokens": 4160,
            "input_tokens_details": {"text_tokens": 40, "image_tokens": 10}}},
         OperationKind.IMAGE, (50, 4160)),
    ],
)  # fmt: skip
def test_typed_audio_and_image_streams_end_at_their_last_event_with_its_usage(
    event, kind, tokens, pricer
):
    import orjson

    adapter = OpenAIAdapter()
    assert adapter.is_stream_end(orjson.dumps(event))
    assert not adapter.is_stream_end(orjson.dumps({**event, "type": "speech.audio.delta"}))
    state = StreamState()
    adapter.observe_stream_event(state, event)
    assert state.usage is not None
    assert (state.usage.prompt_tokens, state.usage.completion_tokens) == tokens
    model = {OperationKind.SPEECH: "gpt-4o-mini-tts", OperationKind.IMAGE: "gpt-image-1",
             OperationKind.TRANSCRIPTION: "gpt-4o-transcribe"}[kind]  # fmt: skip
    assert pricer.cost(Operation(kind, "/v1/x"), model, state.usage, None, {}, adapter.prices) > 0
