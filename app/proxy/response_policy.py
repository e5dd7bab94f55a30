"""Redaction of what comes back, for a key whose policy has `redactResponses` (beyond BricksLLM).

The policy stage puts a `ResponseRedaction` on the outgoing call; the relay passes a whole body
through `body()` before it is settled and sent (the event keeps the redacted body), and each SSE
event of a stream through a `StreamFilter`, which holds back the last characters of text so a
match split across two deltas is still caught while the stream stays incremental. Usage and the
local token count are read from the provider's own events before they are filtered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from app.domain.policies import Policy
from app.policies.engine import EntityDetector
from app.policies.responses import StreamRedactor, redact_response_body
from app.providers import sse


@dataclass(frozen=True)
class ResponseRedaction:
    policy: Policy
    detectors: EntityDetector

    def body(self, body: bytes) -> bytes:
        """The answer with its matches masked; raises `PolicyUnavailable` when a detector fails
        and the policy blocks."""
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body  # not JSON: no text fields the gateway knows
        return redact_response_body(self.policy, self.detectors, body, parsed)

    def stream(self) -> StreamFilter:
        return StreamFilter(StreamRedactor(self.policy, self.detectors))


class StreamFilter:
    """One stream's redaction: each raw SSE event in, the events to send out."""

    def __init__(self, redactor: StreamRedactor) -> None:
        self._redactor = redactor

    def events(self, raw: bytes) -> list[bytes]:
        data = sse.event_data(raw)
        payload = sse.parse_json_data(data) if data else None
        if not isinstance(payload, dict):
            return [raw]  # [DONE], comments, keep-alives
        self._redactor.feed_event(payload)
        self._redactor.mask_full_texts(payload)
        held = self._redactor.flush_before(payload)
        out = [_with_data(raw, orjson.dumps(held))] if held is not None else []
        out.append(_with_data(raw, orjson.dumps(payload)))
        return out


def _with_data(raw: bytes, data: bytes) -> bytes:
    """`raw` with its data line(s) replaced by one `data:` line holding `data`; its other lines
    (`event:`, `id:`) and its line endings kept."""
    newline = b"\r\n" if b"\r\n" in raw else b"\n"
    lines = [line for line in raw.split(newline) if line and not line.startswith(b"data:")]
    return newline.join([*lines, b"data: " + data]) + newline + newline
