"""OpenAI: the upstream URL and key header, usage from bodies and stream chunks, prices."""

from __future__ import annotations

from typing import Any

from app.domain.entities import ProviderSetting
from app.providers.base import Operation, StreamState, Usage

PUBLIC_ORIGIN = "https://api.openai.com"


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or raw.get("input_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or raw.get("output_tokens") or 0),
        cached_prompt_tokens=int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
        source="provider",
    )


class OpenAIAdapter:
    name = "openai"

    def upstream_url(self, setting: ProviderSetting, operation: Operation, query: str) -> str:
        origin = setting.url or PUBLIC_ORIGIN
        return f"{origin}{operation.upstream_path}" + (f"?{query}" if query else "")

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
        import orjson

        patched = dict(parsed, stream_options={**(options or {}), "include_usage": True})
        return orjson.dumps(patched), True

    def usage_from_body(self, operation: Operation, parsed: dict[str, Any]) -> Usage | None:
        return _usage(parsed.get("usage"))

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
        usage = _usage(data.get("usage"))
        if usage is not None:
            state.usage = usage
        return usage is not None and choices == []
