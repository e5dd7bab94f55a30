"""A policy's rules run over texts: entity findings from the detectors plus regex matches, each
with the action its rule asks for, and the redaction of matched spans with `***`.

Regex rules are compiled once per distinct rule list (RE2, on UTF-8 bytes) into one RE2 Set: a
single pass says which rules match at all; spans are only looked for when a rule redacts.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import re2

from app.domain.policies import REDACT, Policy, RegexRule
from app.pii.base import Finding

MASK = "***"

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_SET_OPTIONS = re2.Options()
_SET_OPTIONS.log_errors = False
_SET_OPTIONS.max_mem = 32 << 20


@dataclass(frozen=True)
class Hit:
    """One rule matched in one text: `entity` or `regex` names the rule (never the matched
    text, which may be the very data the policy protects)."""

    action: str
    entity: str = ""
    regex: str = ""
    spans: tuple[tuple[int, int], ...] = ()  # character spans, kept only for redaction


class _RegexRules:
    def __init__(self, rules: tuple[RegexRule, ...]) -> None:
        self.rules = rules
        self.regexes = [re2.compile(r.definition.encode(), _OPTIONS) for r in rules]
        self.set: Any = None
        if rules:
            candidate = re2.Set.SearchSet(_SET_OPTIONS)
            for rule in rules:
                candidate.Add(rule.definition.encode())
            try:
                candidate.Compile()
                self.set = candidate
            except re2.error:  # too large together: each rule is searched on its own
                self.set = None

    def hits(self, text: str, data: bytes) -> list[Hit]:
        if self.set is not None:
            indexes = sorted(self.set.Match(data) or ())
        else:
            indexes = [i for i, r in enumerate(self.regexes) if r.search(data)]
        found = []
        for index in indexes:
            rule = self.rules[index]
            spans = _spans(text, data, self.regexes[index]) if rule.action == REDACT else ()
            found.append(Hit(rule.action, regex=rule.definition, spans=spans))
        return found


@functools.lru_cache(maxsize=512)
def _compiled(rules: tuple[RegexRule, ...]) -> _RegexRules:
    return _RegexRules(rules)


def _spans(text: str, data: bytes, regex: Any) -> tuple[tuple[int, int], ...]:
    spans = [m.span() for m in regex.finditer(data) if m.end() > m.start()]
    if len(data) != len(text):  # byte offsets -> character offsets
        spans = [(len(data[:s].decode("utf-8", "replace")), len(data[:e].decode("utf-8", "replace")))
                 for s, e in spans]  # fmt: skip
    return tuple(spans)


def regex_hits(policy: Policy, texts: Sequence[str]) -> list[list[Hit]]:
    """Per text, the regex rules (other than `allow`) that match it."""
    rules = tuple(r for r in policy.regex_rules or () if r.action != "allow")
    if not rules:
        return [[] for _ in texts]
    compiled = _compiled(rules)
    return [compiled.hits(text, text.encode("utf-8")) for text in texts]


def entity_hits(policy: Policy, findings: Sequence[Finding]) -> list[Hit]:
    """The policy's action for each entity found (one hit per entity, with all its spans)."""
    actions = policy.entity_actions
    spans: dict[str, list[tuple[int, int]]] = {}
    for finding in findings:
        if finding.entity in actions:
            spans.setdefault(finding.entity, []).append((finding.start, finding.end))
    return [Hit(actions[e], entity=e, spans=tuple(s)) for e, s in spans.items()]


def merge(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans sorted, with overlapping or touching ones joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def mask(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """`text` with every span (overlapping ones joined) replaced by `***`."""
    parts: list[str] = []
    last = 0
    for start, end in merge(spans):
        parts += [text[last:start], MASK]
        last = end
    parts.append(text[last:])
    return "".join(parts)
