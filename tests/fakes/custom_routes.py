"""Custom-provider route configs the tests share: an OpenAI-shaped chat route and a TGI-shaped
generate route (nested model, one prompt string, its own end word)."""

from __future__ import annotations

from typing import Any


def chat_route(target_url: str) -> dict[str, Any]:
    return {
        "path": "/chat/completions",
        "target_url": target_url,
        "model_location": "model",
        "request_prompt_location": "messages.#.content",
        "response_completion_location": "choices.#.message.content",
        "stream_location": "stream",
        "stream_end_word": "[DONE]",
        "stream_response_completion_location": "choices.#.delta.content",
        "stream_max_empty_messages": 10,
    }


def generate_route(target_url: str) -> dict[str, Any]:
    return {
        "path": "/generate",
        "target_url": target_url,
        "model_location": "parameters.model_id",
        "request_prompt_location": "inputs",
        "response_completion_location": "generated_text",
        "stream_location": "parameters.stream",
        "stream_end_word": "END",
        "stream_response_completion_location": "token.text",
    }
