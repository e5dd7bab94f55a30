"""Server-sent events, parsed as pure functions (golden-file tested): read an event's data, detect usage."""

from __future__ import annotations

from typing import Any

import orjson

DONE = b"[DONE]"


def event_data(raw_event: bytes) -> bytes | None:
    """The joined `data:` payload of one raw event (`b"data: {...}\\n\\n"`), or None."""
    parts = [line[5:].lstrip(b" ") for line in raw_event.splitlines() if line.startswith(b"data:")]
    return b"\n".join(parts) if parts else None


def may_carry_usage(data: bytes) -> bool:
    """Cheap pre-check before parsing: usage objects appear as `"usage":{` (OpenAI sends
    `"usage":null` on ordinary chunks) or in Anthropic's message events."""
    return b'"usage":{' in data or b'"usage": {' in data or b'"message_' in data


def event_name(raw_event: bytes) -> str:
    for line in raw_event.splitlines():
        if line.startswith(b"event:"):
            return line[6:].strip().decode("utf-8", errors="replace")
    return ""


def parse_json_data(data: bytes) -> dict[str, Any] | None:
    """The JSON object in a data payload, or None for `[DONE]`, keep-alives and non-objects."""
    if not data or data == DONE:
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
