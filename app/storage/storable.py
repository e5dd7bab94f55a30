"""Makes any event storable: the rule that turns what a database refuses into what it takes.

Every event is stored, whatever the client put in it. The rule, applied on every database so
both store and report the same thing:

- in every string of the event (ids, user, model, path, error, tags, metadata keys and values),
  a NUL character (U+0000, refused by PostgreSQL in `text` and `jsonb`) and a lone surrogate
  (U+D800..U+DFFF, not encodable in UTF-8) each become U+FFFD, the replacement character;
- integers are clamped to the range of their column (32-bit for statuses, token counts and
  latencies; 64-bit for times and money).

`clean_event` applies that rule. `last_resort` is for a row the database still refuses (for any
reason): it keeps the accounting (ids, key, money, tokens, status) and reduces every free text
to printable ASCII, drops the metadata and notes why in `error`, so the row is stored anyway.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from app.domain.events import Event

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INT32_FIELDS = ("status", "prompt_token_count", "completion_token_count", "latency_in_ms")
_INT64_FIELDS = ("created_at", "cost_micros")
_TEXT_FIELDS = (
    "id", "key_id", "provider", "model", "path", "method", "custom_id", "user_id",
    "policy_id", "action", "route_id", "token_count_source", "error",
)  # fmt: skip


def clean_text(value: str) -> str:
    """The string with NUL and lone surrogates replaced by U+FFFD (the same object if clean)."""
    if value.isascii() and "\x00" not in value:
        return value
    return _UNSTORABLE.sub(REPLACEMENT, value)


def clean_json(value: Any) -> Any:
    """A JSON value (metadata) with the text rule applied to every key and string inside."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return _clamp(value, _INT64)  # jsonb numerics are unbounded, orjson is 64-bit
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None  # NaN and infinities are not JSON
    return value


def clean_event(event: Event) -> Event:
    """The event under the storage rule; the same object when nothing needed a change."""
    changes: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = getattr(event, name)
        cleaned = clean_text(value) if isinstance(value, str) else str(value or "")
        if cleaned is not value:
            changes[name] = cleaned
    for name, bounds in [(n, _INT32) for n in _INT32_FIELDS] + [(n, _INT64) for n in _INT64_FIELDS]:
        value = getattr(event, name)
        clamped = _clamp(int(value or 0), bounds)
        if clamped != value or type(value) is not int:
            changes[name] = clamped
    tags = tuple(clean_text(str(t)) for t in event.tags)
    if tags != event.tags:
        changes["tags"] = tags
    if event.metadata is not None:
        metadata = clean_json(event.metadata)
        if metadata != event.metadata:
            changes["metadata"] = metadata
    return dataclasses.replace(event, **changes) if changes else event


def last_resort(event: Event, reason: str) -> Event:
    """The event reduced to what any database stores: accounting kept, free text made printable
    ASCII, metadata dropped; `error` says a cleaned row was stored and why."""
    event = clean_event(event)
    text: dict[str, Any] = {name: _ascii(getattr(event, name)) for name in _TEXT_FIELDS}
    text["error"] = _ascii(f"{event.error} [stored as a cleaned row: {reason}]".strip())[:1000]
    return dataclasses.replace(
        event, **text, tags=tuple(_ascii(t) for t in event.tags), metadata=None
    )


def _ascii(value: str) -> str:
    printable = value.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(c if " " <= c <= "~" else f"\\x{ord(c):02x}" for c in printable)


def _clamp(value: int, bounds: tuple[int, int]) -> int:
    return max(bounds[0], min(bounds[1], value))
