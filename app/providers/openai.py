"""OpenAI, and the OpenAI-compatible base the other OpenAI-shaped providers build on: the upstream
URL and key header, usage from bodies and stream chunks, `stream_options` injection, its routes.

Streams come in two shapes: chat and completions chunks ending with `data: [DONE]`, and typed
events (`{"type": ...}`) that end with a terminal event and no `[DONE]`: the Responses API
(`responses.py`), speech (`speech.audio.done`), transcription (`transcript.text.done`) and image
streams (`image_generation.completed`, `image_edit.completed`).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from app.domain.entities import ProviderSetting
from app.providers import pricing, responses, sse
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
# The last event of a typed (non-Responses) stream, and which modality its usage reports.
_TYPED_STREAM_END = re.compile(
    rb'"type"\s*:\s*"(?:speech\.audio\.done|transcript\.text\.done|image_(?:generation|edit)\.completed)"'
)
_TYPED_USAGE_KIND = {
    "speech.audio.done": OperationKind.SPEECH,
    "transcript.text.done": OperationKind.TRANSCRIPTION,
    "image_generation.completed": OperationKind.IMAGE,
    "image_edit.completed": OperationKind.IMAGE,
}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _details(raw: dict[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        details = raw.get(name)
        if isinstance(details, dict):
            return details
    return {}


def usage_of(raw: Any) -> Usage | None:
    """An OpenAI `usage` object (also the Responses API's input/output names) as Usage."""
    if not isinstance(raw, dict):
        return None
    prompt = _details(raw, "prompt_tokens_details", "input_tokens_details")
    completion = _details(raw, "completion_tokens_details", "output_tokens_details")
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or raw.get("input_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or raw.get("output_tokens") or 0),
        cached_prompt_tokens=_count(prompt.get("cached_tokens")),
        reasoning_tokens=_count(completion.get("reasoning_tokens")),
        source="provider",
    )


def modal_usage_of(kind: OperationKind, raw: Any) -> Usage | None:
    """The token usage of an image, transcription or speech answer (or stream's last event), with
    its audio and image parts: gpt-image models report `input_tokens_details.{text,image}_tokens`
    (their output is image tokens unless `output_tokens_details` says otherwise), the transcribe
    models `input_token_details.audio_tokens`, and speech its audio output as `output_tokens`.
    Whisper's `{"type": "duration"}` usage is not token usage: None."""
    if not isinstance(raw, dict) or raw.get("type") == "duration":
        return None
    usage = usage_of(raw)
    if usage is None or not (usage.prompt_tokens or usage.completion_tokens):
        return None
    inputs = _details(raw, "input_tokens_details", "input_token_details")
    outputs = _details(raw, "output_tokens_details", "output_token_details")
    usage.prompt_audio_tokens = _count(inputs.get("audio_tokens"))
    usage.prompt_image_tokens = _count(inputs.get("image_tokens"))
    if kind is OperationKind.IMAGE:
        image_out = outputs.get("image_tokens") if outputs else usage.completion_tokens
        usage.completion_image_tokens = _count(image_out)
    elif kind is OperationKind.SPEECH:
        usage.completion_audio_tokens = _count(outputs.get("audio_tokens", usage.completion_tokens))
    return usage


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
        kind = operation.kind
        if kind is OperationKind.RESPONSES:
            return responses.usage_of(parsed.get("usage"))
        if kind is OperationKind.TRANSCRIPTION:
            usage = modal_usage_of(kind, parsed.get("usage"))
            seconds = _reported_seconds(parsed)
            if usage is None and seconds is not None:  # whisper is priced by the second
                return Usage(audio_seconds=seconds, source="provider")
            return usage
        if kind is OperationKind.IMAGE:
            usage = modal_usage_of(kind, parsed.get("usage")) or Usage(source="provider")
            data = parsed.get("data")
            usage.images = len(data) if isinstance(data, list) else 0
            return usage if usage.images or usage.prompt_tokens else None
        return usage_of(parsed.get("usage"))

    def observe_stream_event(self, state: StreamState, data: dict[str, Any]) -> bool:
        if responses.is_stream_event(data):
            responses.observe(state, data)
            return False
        typed = _TYPED_USAGE_KIND.get(str(data.get("type")))
        if typed is not None:
            state.usage = modal_usage_of(typed, data.get("usage")) or state.usage
            return False
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
        if data == sse.DONE:
            return True
        # Typed streams (Responses, audio, images) have no [DONE]; the search runs only on
        # payloads that name such a type, not on every chat chunk.
        if b'"type"' not in data:
            return False
        return responses.is_terminal(data) or _TYPED_STREAM_END.search(data) is not None


# The Responses API: creating a response is priced; retrieving, listing its input items, cancelling
# or deleting it is free, so polling a stored or background response never bills it twice.
# `input_tokens` counts a request's tokens without generating any: free.
RESPONSES_ROUTES: tuple[RouteSpec, ...] = (
    ("POST", "/v1/responses", "responses"),
    ("POST", "/v1/responses/input_tokens", "other"),
    ("POST", "/v1/responses/compact", "responses"),  # compaction runs the model: priced
    ("GET", "/v1/responses/:id", "other"),
    ("DELETE", "/v1/responses/:id", "other"),
    ("POST", "/v1/responses/:id/cancel", "other"),
    ("GET", "/v1/responses/:id/input_items", "other"),
)
# Stored chat completions (`store: true`): reading, updating metadata, listing, deleting.
STORED_CHAT_ROUTES: tuple[RouteSpec, ...] = (
    ("GET", "/v1/chat/completions", "other"),
    ("GET", "/v1/chat/completions/:completion_id", "other"),
    ("POST", "/v1/chat/completions/:completion_id", "other"),
    ("DELETE", "/v1/chat/completions/:completion_id", "other"),
    ("GET", "/v1/chat/completions/:completion_id/messages", "other"),
)
CONVERSATION_ROUTES: tuple[RouteSpec, ...] = (
    ("POST", "/v1/conversations", "other"),
    ("GET", "/v1/conversations/:conversation_id", "other"),
    ("POST", "/v1/conversations/:conversation_id", "other"),
    ("DELETE", "/v1/conversations/:conversation_id", "other"),
    ("POST", "/v1/conversations/:conversation_id/items", "other"),
    ("GET", "/v1/conversations/:conversation_id/items", "other"),
    ("GET", "/v1/conversations/:conversation_id/items/:item_id", "other"),
    ("DELETE", "/v1/conversations/:conversation_id/items/:item_id", "other"),
)
UPLOAD_ROUTES: tuple[RouteSpec, ...] = (
    ("POST", "/v1/uploads", "other"),
    ("POST", "/v1/uploads/:upload_id/parts", "other"),
    ("POST", "/v1/uploads/:upload_id/complete", "other"),
    ("POST", "/v1/uploads/:upload_id/cancel", "other"),
)
# Vector storage is billed per GB and day by OpenAI: what adds to it is "unpriced".
VECTOR_STORE_ROUTES: tuple[RouteSpec, ...] = (
    ("POST", "/v1/vector_stores", "unpriced"),
    ("GET", "/v1/vector_stores", "other"),
    ("GET", "/v1/vector_stores/:vector_store_id", "other"),
    ("POST", "/v1/vector_stores/:vector_store_id", "other"),
    ("DELETE", "/v1/vector_stores/:vector_store_id", "other"),
    ("POST", "/v1/vector_stores/:vector_store_id/search", "other"),
    ("POST", "/v1/vector_stores/:vector_store_id/files", "unpriced"),
    ("GET", "/v1/vector_stores/:vector_store_id/files", "other"),
    ("GET", "/v1/vector_stores/:vector_store_id/files/:file_id", "other"),
    ("POST", "/v1/vector_stores/:vector_store_id/files/:file_id", "other"),
    ("DELETE", "/v1/vector_stores/:vector_store_id/files/:file_id", "other"),
    ("GET", "/v1/vector_stores/:vector_store_id/files/:file_id/content", "other"),
    ("POST", "/v1/vector_stores/:vector_store_id/file_batches", "unpriced"),
    ("GET", "/v1/vector_stores/:vector_store_id/file_batches/:batch_id", "other"),
    ("POST", "/v1/vector_stores/:vector_store_id/file_batches/:batch_id/cancel", "other"),
    ("GET", "/v1/vector_stores/:vector_store_id/file_batches/:batch_id/files", "other"),
)
# A fine-tuning job bills its training when it runs, after the gateway has answered: "unpriced".
FINE_TUNING_ROUTES: tuple[RouteSpec, ...] = (
    ("POST", "/v1/fine_tuning/jobs", "unpriced"),
    ("GET", "/v1/fine_tuning/jobs", "other"),
    ("GET", "/v1/fine_tuning/jobs/:job_id", "other"),
    ("POST", "/v1/fine_tuning/jobs/:job_id/cancel", "other"),
    ("POST", "/v1/fine_tuning/jobs/:job_id/pause", "other"),
    ("POST", "/v1/fine_tuning/jobs/:job_id/resume", "unpriced"),
    ("GET", "/v1/fine_tuning/jobs/:job_id/events", "other"),
    ("GET", "/v1/fine_tuning/jobs/:job_id/checkpoints", "other"),
    ("GET", "/v1/fine_tuning/checkpoints/:checkpoint_id/permissions", "other"),
    ("POST", "/v1/fine_tuning/checkpoints/:checkpoint_id/permissions", "other"),
    ("DELETE", "/v1/fine_tuning/checkpoints/:checkpoint_id/permissions/:permission_id", "other"),
    ("POST", "/v1/fine_tuning/alpha/graders/run", "unpriced"),
    ("POST", "/v1/fine_tuning/alpha/graders/validate", "other"),
)
# A container is billed per session by OpenAI: creating one is "unpriced".
CONTAINER_ROUTES: tuple[RouteSpec, ...] = (
    ("POST", "/v1/containers", "unpriced"),
    ("GET", "/v1/containers", "other"),
    ("GET", "/v1/containers/:container_id", "other"),
    ("DELETE", "/v1/containers/:container_id", "other"),
    ("POST", "/v1/containers/:container_id/files", "other"),
    ("GET", "/v1/containers/:container_id/files", "other"),
    ("GET", "/v1/containers/:container_id/files/:file_id", "other"),
    ("DELETE", "/v1/containers/:container_id/files/:file_id", "other"),
    ("GET", "/v1/containers/:container_id/files/:file_id/content", "other"),
)


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
        *RESPONSES_ROUTES,
        *STORED_CHAT_ROUTES,
        *CONVERSATION_ROUTES,
        *UPLOAD_ROUTES,
        *VECTOR_STORE_ROUTES,
        *FINE_TUNING_ROUTES,
        *CONTAINER_ROUTES,
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
        ("POST", "/v1/threads/runs", "unpriced"),
        ("GET", "/v1/threads/:thread_id", "other"),
        ("POST", "/v1/threads/:thread_id", "other"),
        ("DELETE", "/v1/threads/:thread_id", "other"),
        ("POST", "/v1/threads/:thread_id/messages", "other"),
        ("GET", "/v1/threads/:thread_id/messages", "other"),
        ("GET", "/v1/threads/:thread_id/messages/:message_id", "other"),
        ("POST", "/v1/threads/:thread_id/messages/:message_id", "other"),
        ("GET", "/v1/threads/:thread_id/messages/:message_id/files", "other"),
        ("GET", "/v1/threads/:thread_id/messages/:message_id/files/:file_id", "other"),
        ("POST", "/v1/threads/:thread_id/runs", "unpriced"),
        ("GET", "/v1/threads/:thread_id/runs", "other"),
        ("GET", "/v1/threads/:thread_id/runs/:run_id", "other"),
        ("POST", "/v1/threads/:thread_id/runs/:run_id", "other"),
        ("POST", "/v1/threads/:thread_id/runs/:run_id/cancel", "other"),
        ("POST", "/v1/threads/:thread_id/runs/:run_id/submit_tool_outputs", "unpriced"),
        ("GET", "/v1/threads/:thread_id/runs/:run_id/steps", "other"),
        ("GET", "/v1/threads/:thread_id/runs/:run_id/steps/:step_id", "other"),
        ("POST", "/v1/batches", "unpriced"),
        ("GET", "/v1/batches", "other"),
        ("GET", "/v1/batches/:batch_id", "other"),
        ("POST", "/v1/batches/:batch_id/cancel", "other"),
    )

    @property
    def prices(self) -> pricing.PriceTable:
        return pricing.openai_prices()
