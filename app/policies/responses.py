"""Redaction of what comes back, for policies with `redactResponses` (beyond BricksLLM).

In an answer, a match of a `block` or `allow_but_redact` rule becomes `***` (the request was
already sent; blocking the answer would only waste it). `redact_response_body` handles a whole
JSON body the way the request side does: only the string literals holding a match change.

`StreamRedactor` handles a stream of text deltas with a bounded hold-back: it keeps the last
`hold_back` characters (and any match running into them) until more text or the end arrives,
so a match split across two deltas is still caught, while everything before is emitted as soon
as at least 64 characters are ready (one scan per 64 characters rather than per delta).
A match longer than `hold_back` characters may get out in pieces; every pattern entity is far
shorter. `feed_event` applies it to the parsed `data:` payload of an SSE event of the OpenAI
chat and completions, Anthropic messages and OpenAI Responses streams; `flush_before` gives the
delta event that carries the held-back rest before the event that ends the text, and
`mask_full_texts` masks the Responses events that repeat the whole text.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from app.domain.policies import BLOCK, REDACT, Policy
from app.pii.base import DetectorUnavailable, Finding
from app.policies.engine import EntityDetector, PolicyUnavailable
from app.policies.json_texts import RESPONSE_DESCEND, RESPONSE_KEYS, find_texts, splice
from app.policies.matching import entity_hits, mask, merge, regex_hits

_MASKED = frozenset({BLOCK, REDACT})
DEFAULT_HOLD_BACK = 256
EMIT_AT_LEAST = 64  # characters released per scan: fewer scans of the same held text


def _spans(
    policy: Policy, detectors: EntityDetector, texts: list[str]
) -> list[list[tuple[int, int]]]:
    """Per text, the spans that a block or redact rule matches."""
    entities = frozenset(policy.entity_actions)
    findings: list[list[Finding]] = [[] for _ in texts]
    if entities:
        try:
            findings = detectors.detect(texts, entities)
        except DetectorUnavailable as exc:
            if policy.on_detector_failure == BLOCK:
                raise PolicyUnavailable(str(exc)) from exc
            findings = exc.partial or findings
    regexes = regex_hits(policy, texts, span_actions=_MASKED)
    return [
        [span for hit in entity_hits(policy, f) + r if hit.action in _MASKED for span in hit.spans]
        for f, r in zip(findings, regexes, strict=True)
    ]


def redacts_responses(policy: Policy | None) -> bool:
    return policy is not None and policy.redact_responses and policy.checks_anything()


def redact_response_body(
    policy: Policy | None, detectors: EntityDetector, body: bytes, parsed: Any
) -> bytes:
    """A non-streamed answer with its matches masked; the same bytes object when nothing
    matched or the policy does not redact responses."""
    if not redacts_responses(policy) or not isinstance(parsed, dict):
        return body
    assert policy is not None
    encoding = json.detect_encoding(body)
    text = body.decode(encoding)
    slots = find_texts(text, RESPONSE_KEYS, RESPONSE_DESCEND)
    spans = _spans(policy, detectors, [s.value for s in slots]) if slots else []
    changes = [(slot, mask(slot.value, s)) for slot, s in zip(slots, spans, strict=True) if s]
    return splice(text, changes).encode(encoding) if changes else body


class StreamRedactor:
    """Masks matches in a stream of text pieces; `feed` returns what may be sent now, `finish`
    what is left at the end."""

    def __init__(
        self,
        policy: Policy,
        detectors: EntityDetector,
        hold_back: int = DEFAULT_HOLD_BACK,
        emit_at_least: int = EMIT_AT_LEAST,
    ) -> None:
        self._policy = policy
        self._detectors = detectors
        self._hold_back = hold_back
        self._emit_at_least = emit_at_least
        self._held = ""
        self._template: dict[str, Any] | None = None  # the last delta event, to carry the rest

    def feed(self, text: str) -> str:
        self._held += text
        cut = len(self._held) - self._hold_back
        if (
            cut <= 0 or cut < self._emit_at_least
        ):  # one scan per that many characters, not per delta
            return ""
        spans = merge(_spans(self._policy, self._detectors, [self._held])[0])
        for start, end in spans:
            if start < cut < end:  # a match runs over the cut: hold all of it
                cut = start
        out = mask(self._held[:cut], [s for s in spans if s[1] <= cut])
        self._held = self._held[cut:]
        return out

    def finish(self) -> str:
        held, self._held = self._held, ""
        if not held:
            return ""
        return mask(held, _spans(self._policy, self._detectors, [held])[0])

    def feed_event(self, payload: Any) -> bool:
        """Replace the delta text of a parsed SSE payload with what may be sent now; False when
        the event carries no delta text (the caller forwards it unchanged)."""
        place = delta_place(payload)
        if place is None:
            return False
        container, key = place
        if self._template is None:
            self._template = copy.deepcopy(payload)
        container[key] = self.feed(container[key])
        return True

    def flush_before(self, payload: Any) -> dict[str, Any] | None:
        """At the event that ends the text (a chunk with a finish_reason, Anthropic's
        content_block_stop, Responses' output_text.done), the held-back text, masked, as a delta
        event to send just before it; None when there is nothing to send."""
        if not is_text_end(payload) or self._template is None:
            return None
        rest = self.finish()
        if not rest:
            return None
        event = copy.deepcopy(self._template)
        place = delta_place(event)
        assert place is not None  # the template is a delta event
        place[0][place[1]] = rest
        return event

    def mask_full_texts(self, payload: Any) -> None:
        """Mask the events that repeat the whole text (Responses' output_text.done,
        content_part.done, output_item.done and completed), in place."""
        if not isinstance(payload, dict):
            return
        kind = payload.get("type")
        if kind == "response.output_text.done" and isinstance(payload.get("text"), str):
            payload["text"] = self._mask_whole(payload["text"])
        for name in ("part", "item", "response"):
            inner = payload.get(name)
            if kind and kind.startswith("response.") and isinstance(inner, dict):
                for container, key in _text_places(inner):
                    container[key] = self._mask_whole(container[key])

    def _mask_whole(self, text: str) -> str:
        return mask(text, _spans(self._policy, self._detectors, [text])[0])


def is_text_end(payload: Any) -> bool:
    """The event after which no more text of the current block comes."""
    if not isinstance(payload, dict):
        return False
    choices = payload.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0].get("finish_reason") is not None
    return payload.get("type") in ("content_block_stop", "response.output_text.done")


def _text_places(node: Any) -> list[tuple[dict[str, Any], str]]:
    """Every `text` string under a Responses part, item or response object."""
    found: list[tuple[dict[str, Any], str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                found.append((node, key))
            elif isinstance(value, (dict, list)):
                found += _text_places(value)
    elif isinstance(node, list):
        for value in node:
            found += _text_places(value)
    return found


def delta_place(payload: Any) -> tuple[dict[str, Any], str] | None:
    """Where an SSE event's delta text is: OpenAI chat `choices[0].delta.content`, completions
    `choices[0].text`, Anthropic `delta.text` of a `content_block_delta`, Responses `delta` of a
    `response.output_text.delta`."""
    if not isinstance(payload, dict):
        return None
    choices = payload.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        delta = choices[0].get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            return delta, "content"
        if isinstance(choices[0].get("text"), str):
            return choices[0], "text"
        return None
    if payload.get("type") == "content_block_delta":
        delta = payload.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("text"), str):
            return delta, "text"
    if payload.get("type") == "response.output_text.delta" and isinstance(
        payload.get("delta"), str
    ):
        return payload, "delta"
    return None
