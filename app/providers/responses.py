"""OpenAI's Responses API (`POST /v1/responses`, Azure's `/openai/responses`) as pure functions:
how its stream ends, what each stream event tells, and its usage.

The stream carries no `[DONE]`: it ends with one terminal event, `response.completed`,
`response.failed` or `response.incomplete`, whose `response.usage` is the request's usage
(input, cached input, output and reasoning tokens). Text produced so far comes in
`response.output_text.delta` (and refusal, reasoning-summary and function-argument deltas), so a
stream cut before its terminal event is counted locally from them.
"""

from __future__ import annotations

import re
from typing import Any

from app.providers.base import StreamState, Usage

TERMINAL_TYPES = frozenset({"response.completed", "response.failed", "response.incomplete"})
# A terminal event's `"type"` field. Quotes inside JSON strings are escaped (`\"`), so this cannot
# match text the model wrote; nested objects of a response use other type names.
_TERMINAL = re.compile(rb'"type"\s*:\s*"response\.(?:completed|failed|incomplete)"')
# Events whose `delta` is output the model produced (billed as output tokens).
_OUTPUT_DELTAS = frozenset({
    "response.output_text.delta",
    "response.refusal.delta",
    "response.function_call_arguments.delta",
    "response.reasoning_summary_text.delta",
    "response.reasoning_text.delta",
    "response.custom_tool_call_input.delta",
})  # fmt: skip


def is_terminal(data: bytes) -> bool:
    """True for the data payload of a Responses stream's terminal event."""
    return b'"response.' in data and _TERMINAL.search(data) is not None


def usage_of(raw: Any) -> Usage | None:
    """A Responses `usage` object (`input_tokens`, `input_tokens_details.cached_tokens`,
    `output_tokens`, `output_tokens_details.reasoning_tokens`) as Usage."""
    if not isinstance(raw, dict):
        return None
    return Usage(
        prompt_tokens=_int(raw.get("input_tokens")),
        completion_tokens=_int(raw.get("output_tokens")),
        cached_prompt_tokens=_int(_details(raw, "input_tokens_details").get("cached_tokens")),
        reasoning_tokens=_int(_details(raw, "output_tokens_details").get("reasoning_tokens")),
        source="provider",
    )


def observe(state: StreamState, data: dict[str, Any]) -> None:
    """Update `state` from one Responses stream event (`data["type"]` starts with "response.")."""
    kind = data.get("type")
    if kind in _OUTPUT_DELTAS:
        delta = data.get("delta")
        if isinstance(delta, str):
            state.completion_parts.append(delta)
        return
    response = data.get("response")
    if not isinstance(response, dict):
        return
    if not state.model and isinstance(response.get("model"), str):
        state.model = response["model"]
    usage = usage_of(response.get("usage"))
    if usage is not None and kind in TERMINAL_TYPES:
        state.usage = usage


def is_stream_event(data: dict[str, Any]) -> bool:
    kind = data.get("type")
    return isinstance(kind, str) and kind.startswith("response.")


def _details(raw: dict[str, Any], name: str) -> dict[str, Any]:
    details = raw.get(name)
    return details if isinstance(details, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
