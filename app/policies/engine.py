"""The policy stage as a pure function: what a policy makes of one request body.

`inspect_request(policy, detectors, body, parsed)` finds the texts BricksLLM inspects
(`json_texts.REQUEST_KEYS`), runs the detectors for the policy's entities and its regex rules,
and answers an `Outcome`: the strongest action that matched (block > warn > redact > allow) and
the body to forward. Only a `redacted` outcome changes the body, and then only the string
literals that held a match (each match becomes `***`); every other byte stays as it was. An
outcome without a match forwards the original bytes object itself.

A detector that cannot answer raises `PolicyUnavailable` when the policy's `onDetectorFailure`
is `block` (the default); with `allow` the regex rules still apply and the outcome says the
entities went unchecked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.domain.policies import ALLOW, BLOCK, REDACT, Policy, outcome_of, strongest
from app.pii.base import DetectorUnavailable, Finding
from app.policies.json_texts import REQUEST_DESCEND, REQUEST_KEYS, Slot, find_texts, splice
from app.policies.matching import Hit, entity_hits, mask, regex_hits


class EntityDetector(Protocol):
    def detect(self, texts: Sequence[str], entities: frozenset[str]) -> list[list[Finding]]: ...


class PolicyUnavailable(Exception):
    """The policy could not be checked and says to block: answer 503, forward nothing."""

    status = 503


@dataclass(frozen=True)
class Outcome:
    action: str  # "blocked", "warned", "redacted" or "allowed": the event's action
    body: bytes  # what to forward: the original bytes unless the action is "redacted"
    hits: tuple[Hit, ...] = ()  # every rule that matched
    unchecked: str = ""  # why entities went unchecked (a detector failed, the policy allowed it)

    @property
    def entities(self) -> list[str]:
        """Entity names that matched, for logs and events (never the matched text)."""
        return sorted({h.entity for h in self.hits if h.entity})

    @property
    def regexes(self) -> list[str]:
        return sorted({h.regex for h in self.hits if h.regex})

    def reasons(self, action: str) -> list[str]:
        """What matched with `action`: entity names and regex definitions."""
        return sorted({h.entity or h.regex for h in self.hits if h.action == action})


def inspect_request(
    policy: Policy | None, detectors: EntityDetector, body: bytes, parsed: Any
) -> Outcome:
    """The policy's verdict on a request body; `parsed` is the body already parsed as JSON (or
    None when it is not JSON: such bodies carry no text the gateway inspects)."""
    if policy is None or not policy.checks_anything() or not _has_texts(parsed):
        return Outcome(outcome_of(ALLOW), body)
    encoding = json.detect_encoding(body)
    text = body.decode(encoding)
    slots = find_texts(text, REQUEST_KEYS, REQUEST_DESCEND)
    hits, unchecked = _hits(policy, detectors, [s.value for s in slots])
    action = strongest([h.action for per_text in hits for h in per_text])
    flat = tuple(h for per_text in hits for h in per_text)
    if action == ALLOW:
        return Outcome(outcome_of(ALLOW), body, flat, unchecked)
    if action != REDACT:
        return Outcome(outcome_of(action), body, flat, unchecked)
    redacted = splice(text, _redactions(slots, hits)).encode(encoding)
    return Outcome(outcome_of(REDACT), redacted, flat, unchecked)


def _has_texts(parsed: Any) -> bool:
    return isinstance(parsed, dict) and not REQUEST_KEYS.isdisjoint(parsed)


def _hits(
    policy: Policy, detectors: EntityDetector, texts: list[str]
) -> tuple[list[list[Hit]], str]:
    """Per text, the rules that matched; and why entities went unchecked, if they did."""
    if not texts:
        return [], ""
    unchecked = ""
    findings: list[list[Finding]] = [[] for _ in texts]
    entities = frozenset(policy.entity_actions)
    if entities:
        try:
            findings = detectors.detect(texts, entities)
        except DetectorUnavailable as exc:
            if policy.on_detector_failure == BLOCK:
                raise PolicyUnavailable(str(exc)) from exc
            unchecked = str(exc)
    regexes = regex_hits(policy, texts)
    return [entity_hits(policy, f) + r for f, r in zip(findings, regexes, strict=True)], unchecked


def _redactions(slots: list[Slot], hits: list[list[Hit]]) -> list[tuple[Slot, str]]:
    """New values for the slots holding a match of a redact rule."""
    changes = []
    for slot, per_text in zip(slots, hits, strict=True):
        spans = [span for h in per_text if h.action == REDACT for span in h.spans]
        if spans:
            changes.append((slot, mask(slot.value, spans)))
    return changes
