"""OpenAI, and the OpenAI-compatible base the other OpenAI-shaped providers build on: the upstream
URL and key header, usage from bodies and stream chunks, `stream_options` injection, its routes."""

from __future__ import annotations

from typing import Any

import orjson

from app.domain.entities import ProviderSetting
from app.providers import pricing, sse
from app.providers.base import (
    AdapterDefaults,
    Operation,
    OperationKind,
    RouteSpec,
    StreamState,
    Usage,
)

STREAM_ERROR = (
    b'data: {"error":{"code":"502","message":"[BricksLLM] upstream stream ended early",'
    b'"type":"upstream_error"}}\n\n'
)


def usage_of(raw: Any) -> Usage | None:
    """An OpenAI `usage` object (also the Responses API's input/output names) as Usage."""
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or raw.get("input_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or raw.get("output_tokens") or 0),
        cached_prompt_tokens=int(details.get("cached_tokens") or 0)
        if isinstance(details, dict)
        else 0,
        source="provider",
    )


def _reported_seconds(parsed: dict[str, Any]) -> float | None:
    """The audio duration a transcription answer reports: whisper's `usage` of type duration, or
    verbose_json's `duration`. Newer models report tokens instead."""
    usage = parsed.get("usage")
    if isinstance(usage, dict) and usage.get("type") == "duration":
        seconds = usage.get("seconds")
        if isinstance(seconds, (int, float)):
            return float(seconds)
    duration = parsed.get("duration")
    return float(duration) if isinstance(duration, (int, float)) else None


class OpenAICompatibleAdapter(AdapterDefaults):
    """Behaviour shared by every provider that speaks OpenAI's wire format."""

    stream_error = STREAM_ERROR

    def auth_headers(self, setting: ProviderSetting) -> dict[str, str]:
        return {"Authorization": f"Bearer {setting.api_key}"}

    def prepare_stream_body(self, body: bytes, parsed: dict[str, Any]) -> tuple[bytes, bool]:
        options = parsed.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage") is True:
            return body, False
        if options is None:
            # Insert the field after the opening brace; every other byte stays as the client sent it.
            start = body.index(b"{") + 1
            rest = body[start:].lstrip()
            separator = b"" if rest.startswith(b"}") else b","
            injected = b'"stream_options":{"include_usage":true}' + separator
            return body[:start] + injected + body[start:], True
        patched = dict(parsed, stream_options={**(options or {}), "include_usage": True})
        return orjson.dumps(patched), True

    def usage_from_body(self, operation: Operation, parsed: dict[str, Any]) -> Usage | None:
        if operation.kind is OperationKind.TRANSCRIPTION:
            seconds = _reported_seconds(parsed)
            if seconds is not None:  # whisper is priced by the second
                return Usage(audio_seconds=seconds, source="provider")
        return usage_of(parsed.get("usage"))

    def observe_stream_event(self, state: StreamState, data: dict[str, Any]) -> bool:
        if not state.model and isinstance(data.get("model"), str):
            state.model = data["model"]
        choices = data.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                delta = choice.get("delta") if isinstance(choice, dict) else None
                text = delta.get("content") if isinstance(delta, dict) else None
                if text is None and isinstance(choice, dict):
                    text = choice.get("text")  # legacy completions stream
                if isinstance(text, str):
                    state.completion_parts.append(text)
        usage = usage_of(data.get("usage"))
        if usage is not None:
            state.usage = usage
        return usage is not None and choices == []

    def is_stream_end(self, data: bytes) -> bool:
        return data == sse.DONE


class OpenAIAdapter(OpenAICompatibleAdapter):
    """OpenAI's own API. Paths follow OpenAI's real API (DECISIONS.md corrects the README's typos;
    the README's literal paths are accepted too)."""

    name = "openai"
    prefix = "/api/providers/openai"
    public_origin = "https://api.openai.com"
    routes: tuple[RouteSpec, ...] = (
        ("POST", "/v1/chat/completions", "chat"),
        ("POST", "/v1/completions", "completions"),
        ("POST", "/v1/embeddings", "embeddings"),
        ("POST", "/v1/moderations", "other"),
        ("POST", "/v1/responses", "other"),
        ("GET", "/v1/responses/:id", "other"),
        ("DELETE", "/v1/responses/:id", "other"),
        ("GET", "/v1/models", "other"),
        ("GET", "/v1/models/:model", "other"),
        ("GET", "/v1/files", "other"),
        ("POST", "/v1/files", "other"),
        ("DELETE", "/v1/files/:file_id", "other"),
        ("POST", "/v1/files/:file_id", "other"),  # the README's literal "delete a file"
        ("GET", "/v1/files/:file_id", "other"),
        ("GET", "/v1/files/:file_id/content", "other"),
        ("POST", "/v1/images/generations", "image"),
        ("POST", "/v1/images/edits", "image"),
        ("POST", "/v1/images/variations", "image"),
        ("POST", "/v1/audio/speech", "speech"),
        ("POST", "/v1/audio/transcriptions", "transcription"),
        ("POST", "/v1/audio/translations", "transcription"),
        ("POST", "/v1/audios/translations", "transcription"),  # the README's literal path
        ("POST", "/v1/assistants", "other"),
        ("GET", "/v1/assistants", "other"),
        ("GET", "/v1/assistants/:assistant_id", "other"),
        ("POST", "/v1/assistants/:assistant_id", "other"),
        ("DELETE", "/v1/assistants/:assistant_id", "other"),
        ("POST", "/v1/assistants/:assistant_id/files", "other"),
        ("GET", "/v1/assistants/:assistant_id/files", "other"),
        ("GET", "/v1/assistants/:assistant_id/files/:file_id", "other"),
        ("DELETE", "/v1/assistants/:assistant_id/files/:file_id", "other"),
        ("POST", "/v1/threads", "other"),
        ("POST", "/v1/threads/runs", "other"),
        ("GET", "/v1/threads/:thread_id", "other"),
        ("POST", "/v1/threads/:thread_id", "other"),
        ("DELETE", "/v1/threads/:thread_id", "other"),
        ("POST", "/v1/threads/:thread_id/messages", "other"),
        ("GET", "/v1/threads/:thread_id/messages", "other"),
        ("GET", "/v1/threads/:thread_id/messages/:message_id", "other"),
        ("POST", "/v1/threads/:thread_id/messages/:message_id", "other"),
        ("GET", "/v1/threads/:thread_id/messages/:message_id/files", "other"),
        ("GET", "/v1/threads/:thread_id/messages/:message_id/files/:file_id", "other"),
        ("POST", "/v1/threads/:thread_id/runs", "other"),
        ("GET", "/v1/threads/:thread_id/runs", "other"),
        ("GET", "/v1/threads/:thread_id/runs/:run_id", "other"),
        ("POST", "/v1/threads/:thread_id/runs/:run_id", "other"),
        ("POST", "/v1/threads/:thread_id/runs/:run_id/cancel", "other"),
        ("POST", "/v1/threads/:thread_id/runs/:run_id/submit_tool_outputs", "other"),
        ("GET", "/v1/threads/:thread_id/runs/:run_id/steps", "other"),
        ("GET", "/v1/threads/:thread_id/runs/:run_id/steps/:step_id", "other"),
        ("POST", "/v1/batches", "other"),
        ("GET", "/v1/batches", "other"),
        ("GET", "/v1/batches/:batch_id", "other"),
        ("POST", "/v1/batches/:batch_id/cancel", "other"),
    )

    @property
    def prices(self) -> pricing.PriceTable:
        return pricing.openai_prices()
