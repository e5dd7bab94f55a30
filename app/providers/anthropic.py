"""Anthropic: Messages and the legacy Text Completions API. The key goes upstream in `x-api-key`
(the client's `anthropic-version` / `anthropic-beta` pass through); bodies are forwarded byte for
byte. Usage comes from the body, or from `message_start` and the last `message_delta` of a stream,
whose event names are kept as Anthropic sends them.

A stream's usage is final only at `message_delta`: `message_start` announces the input tokens and
one output token. Until the delta arrives the announced usage is kept apart
(`StreamState.started_usage`) and the text deltas are collected, so a stream cut short (client
gone, upstream dead) is billed for the output already relayed, tokenized locally as for OpenAI.
The gateway's own errors on these paths use Anthropic's error shape (`errors.py`).
`POST /v1/messages/count_tokens` is forwarded and free."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.entities import ProviderSetting
from app.providers import pricing
from app.providers.base import AdapterDefaults, Operation, RouteSpec, StreamState, Usage
from app.providers.errors import anthropic_error_body

STREAM_ERROR = (
    b'event: error\ndata: {"type":"error","error":{"type":"api_error",'
    b'"message":"[BricksLLM] upstream stream ended early"}}\n\n'
)


def usage_of(raw: Any, previous: Usage | None = None) -> Usage | None:
    """Anthropic's usage object. Input tokens are reported apart from cache reads and writes; the
    Usage counts all of them as prompt tokens, with the cached parts named. In a stream, a
    `message_delta` may carry only `output_tokens`: the rest comes from `message_start`."""
    if not isinstance(raw, dict):
        return None
    base = previous or Usage()

    def count(name: str, fallback: int) -> int:
        value = raw.get(name)
        return value if isinstance(value, int) and value >= 0 else fallback

    fresh = count(
        "input_tokens", base.prompt_tokens - base.cached_prompt_tokens - base.cache_write_tokens
    )
    cache_read = count("cache_read_input_tokens", base.cached_prompt_tokens)
    cache_write = count("cache_creation_input_tokens", base.cache_write_tokens)
    return Usage(
        prompt_tokens=fresh + cache_read + cache_write,
        completion_tokens=count("output_tokens", base.completion_tokens),
        cached_prompt_tokens=cache_read,
        cache_write_tokens=cache_write,
        source="provider",
    )


class AnthropicAdapter(AdapterDefaults):
    name = "anthropic"
    prefix = "/api/providers/anthropic"
    public_origin = "https://api.anthropic.com"
    routes: tuple[RouteSpec, ...] = (
        ("POST", "/v1/messages", "chat"),
        ("POST", "/v1/complete", "completions"),
        ("POST", "/v1/messages/count_tokens", "other"),  # free: counts, generates nothing
    )
    stream_error = STREAM_ERROR

    @property
    def prices(self) -> pricing.PriceTable:
        return pricing.builtin_prices("anthropic")

    def request_user(self, fields: Mapping[str, Any]) -> str:
        metadata = fields.get("metadata")
        user = metadata.get("user_id") if isinstance(metadata, dict) else None
        return user if isinstance(user, str) else ""

    def auth_headers(self, setting: ProviderSetting) -> dict[str, str]:
        return {"x-api-key": setting.api_key}

    def prepare_stream_body(self, body: bytes, parsed: dict[str, Any]) -> tuple[bytes, bool]:
        return body, False  # Anthropic streams always report usage

    def usage_from_body(self, operation: Operation, parsed: dict[str, Any]) -> Usage | None:
        return usage_of(parsed.get("usage"))

    def observe_stream_event(self, state: StreamState, data: dict[str, Any]) -> bool:
        kind = data.get("type")
        if kind == "message_start":
            message = data.get("message")
            if isinstance(message, dict):
                if isinstance(message.get("model"), str):
                    state.model = message["model"]
                started = usage_of(message.get("usage"), state.started_usage)
                state.started_usage = started or state.started_usage
        elif kind == "message_delta":
            previous = state.usage or state.started_usage
            state.usage = usage_of(data.get("usage"), previous) or state.usage
        elif kind == "content_block_delta":
            delta = data.get("delta")
            if isinstance(delta, dict):
                text = delta.get("text", delta.get("partial_json", delta.get("thinking")))
                if isinstance(text, str):
                    state.completion_parts.append(text)
        elif kind == "completion" and isinstance(data.get("completion"), str):
            state.completion_parts.append(data["completion"])  # legacy Text Completions
            if isinstance(data.get("model"), str):
                state.model = data["model"]
        return False

    def error_body(self, status: int, message: str, error_type: str) -> dict[str, Any]:
        return anthropic_error_body(status, message, error_type)

    def is_stream_end(self, data: bytes) -> bool:
        # Quotes inside text are escaped in JSON, so `"message_stop"` only matches the event type.
        if b'"message_stop"' in data:
            return True
        # A legacy completion stream ends with the event that carries a stop reason.
        return data.startswith(b'{"type":"completion"') and b'"stop_reason":null' not in data
