"""A cached whole chat completion replayed as an OpenAI SSE stream, for streamed requests served
from the cache.

The stream has, per choice, one chunk with the role and the whole content (and the tool calls,
if any), then one chunk with its finish reason; then, when the client asked for
`stream_options.include_usage`, a usage chunk with no choices; then `data: [DONE]`. Every chunk
keeps the answer's id, created, model and system_fingerprint, with object
`chat.completion.chunk`. OpenAI's SDKs and any SSE reader assemble it as they assemble a live
stream (the text arrives in one piece instead of token by token).
"""

from __future__ import annotations

import json
from typing import Any

DONE = b"data: [DONE]\n\n"


def chat_answer_as_sse(body: bytes, include_usage: bool = False) -> list[bytes]:
    """The SSE events of a stored chat.completion body; ValueError if it is not one."""
    answer = json.loads(body)
    if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list):
        raise ValueError("not a chat completion")
    head = {
        "id": answer.get("id", ""),
        "object": "chat.completion.chunk",
        "created": answer.get("created", 0),
        "model": answer.get("model", ""),
        "system_fingerprint": answer.get("system_fingerprint"),
    }
    chunks: list[dict[str, Any]] = []
    for choice in answer["choices"]:
        index = choice.get("index", 0)
        chunks.append({**head, "choices": [
            {"index": index, "delta": _delta(choice.get("message") or {}),
             "logprobs": choice.get("logprobs"), "finish_reason": None}]})  # fmt: skip
        chunks.append({**head, "choices": [
            {"index": index, "delta": {}, "logprobs": None,
             "finish_reason": choice.get("finish_reason")}]})  # fmt: skip
    if include_usage and answer.get("usage") is not None:
        chunks.append({**head, "choices": [], "usage": answer["usage"]})
    return [_event(chunk) for chunk in chunks] + [DONE]


def _delta(message: dict[str, Any]) -> dict[str, Any]:
    delta: dict[str, Any] = {"role": message.get("role", "assistant")}
    for name in ("content", "refusal"):
        if message.get(name) is not None:
            delta[name] = message[name]
    calls = message.get("tool_calls")
    if calls:
        delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(calls)]
    return delta


def _event(chunk: dict[str, Any]) -> bytes:
    data = json.dumps(chunk, separators=(",", ":"), ensure_ascii=False)
    return b"data: " + data.encode("utf-8") + b"\n\n"
