"""The local PII detector: patterns plus checksums, no network and no model. The default.

It serves every entity of `app/pii/patterns.py`; the entities of `CLOUD_ONLY` need AWS
Comprehend. Patterns are compiled once per process with RE2 (linear time whatever the text).

Cost (measured on a 2 KB prompt, see README): one RE2 Set pass over the UTF-8 bytes says which
patterns occur at all, about 10 microseconds for a clean text, so only those patterns are run to
find their spans, and only their candidates are checked. Matching bytes rather than str avoids
the binding's per-call re-encoding of the text.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import re2

from app.pii.base import Finding
from app.pii.patterns import DIGIT_GROUPS, PATTERNS, Pattern

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_SET_OPTIONS = re2.Options()
_SET_OPTIONS.log_errors = False
_SET_OPTIONS.max_mem = 64 << 20  # the Set's DFA covers every pattern at once


class _Compiled:
    """The patterns for one set of wanted entities: a Set to find which occur, and each
    pattern's own regex to find where."""

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        self.patterns = list(patterns)
        self.regexes = [re2.compile(p.regex.encode(), _OPTIONS) for p in patterns]
        self.set = re2.Set.SearchSet(_SET_OPTIONS)
        for pattern in patterns:
            self.set.Add(pattern.regex.encode())
        self.set.Compile()


class LocalDetector:
    name = "local"

    def __init__(self, patterns: Sequence[Pattern] = PATTERNS) -> None:
        self._patterns = tuple(patterns)
        self._entities = frozenset(p.entity for p in patterns)

    @property
    def entities(self) -> frozenset[str]:
        return self._entities

    def detect(self, texts: Sequence[str], entities: frozenset[str]) -> list[list[Finding]]:
        compiled = self._compiled(entities & self._entities)
        if not compiled.patterns:
            return [[] for _ in texts]
        return [_scan(text, compiled) for text in texts]

    @functools.lru_cache(maxsize=256)  # noqa: B019 - detectors live as long as the process
    def _compiled(self, entities: frozenset[str]) -> _Compiled:
        return _Compiled([p for p in self._patterns if p.entity in entities])


def _scan(text: str, compiled: _Compiled) -> list[Finding]:
    data = text.encode("utf-8")
    hits = compiled.set.Match(data)
    if not hits:
        return []
    found: list[Finding] = []
    named: list[Finding] = []  # spans a keyword names as an entity, valid or not
    for index in sorted(hits):
        pattern = compiled.patterns[index]
        found += _findings(data, pattern, compiled.regexes[index], named)
    if named:
        found = [f for f in found if not _named_otherwise(f, named)]
    found = _drop_pieces(found)
    if len(data) != len(text):  # not ASCII: byte offsets -> character offsets
        found = [_to_chars(data, f) for f in found]
    return found


def _named_otherwise(finding: Finding, named: list[Finding]) -> bool:
    """A keyword named the span as another entity: "NHS number 943 476 5919" is not a phone
    number, though it is written like one (even when its NHS checksum is wrong)."""
    return any(n.entity != finding.entity and n.start < finding.end and finding.start < n.end
               for n in named)  # fmt: skip


def _findings(data: bytes, pattern: Pattern, regex: Any, named: list[Finding]) -> list[Finding]:
    """The pattern's valid matches; matches after a keyword are added to `named` too."""
    found = []
    for match in regex.finditer(data):
        start, end = match.span(pattern.group)
        if pattern.group:
            named.append(Finding(start, end, pattern.entity))
        value = data[start:end].decode("utf-8", "replace")
        if pattern.trim:
            stripped = value.rstrip(pattern.trim)
            end -= len(value) - len(stripped)  # trimmed characters are ASCII
            value = stripped
        if (
            value
            and pattern.check(value)
            and not (pattern.isolated and _in_a_run(data, start, end))
        ):
            found.append(Finding(start, end, pattern.entity))
    return found


_DIGITS = b"0123456789"
_IBAN = "international_bank_account_number"


def _in_a_run(data: bytes, start: int, end: int) -> bool:
    """True when the span is a piece of a longer number: digits touch it, a digit group is
    joined to it by a dash, or (for a span written in space-separated groups) the word one
    space before or after it is a plain group of digits. "4111 1111 1111 1111 123-45-6789" is
    two numbers; "5174 9706 6059 5741" is one."""
    before = data[max(0, start - 2) : start]
    after = data[end : end + 2]
    if (before[-1:] and before[-1] in _DIGITS) or (after[:1] and after[0] in _DIGITS):
        return True
    if (before[-1:] == b"-" and before[:1].isdigit()) or (
        after[:1] == b"-" and after[1:].isdigit()
    ):
        return True
    if b" " not in data[start:end]:
        return False
    word_before = (
        data[max(0, start - 9) : start].rsplit(None, 1)[-1:] if before[-1:] == b" " else []
    )
    word_after = data[end + 1 : end + 9].split(None, 1)[:1] if after[:1] == b" " else []
    return any(w.isdigit() for w in (*word_before, *word_after))


def _drop_pieces(found: list[Finding]) -> list[Finding]:
    """Numbers inside a longer number of another entity are pieces of it, not numbers of their
    own: the Aadhaar-shaped first 12 digits of a card, the card-shaped digits of an IBAN."""
    numbers = [f for f in found if f.entity in DIGIT_GROUPS or f.entity == _IBAN]
    if len(numbers) < 2:
        return found
    return [f for f in found if not (f in numbers and any(
        o.entity != f.entity and o.start <= f.start and f.end <= o.end and o.end - o.start > f.end - f.start
        for o in numbers))]  # fmt: skip


def _to_chars(data: bytes, finding: Finding) -> Finding:
    start = len(data[: finding.start].decode("utf-8", "replace"))
    length = len(data[finding.start : finding.end].decode("utf-8", "replace"))
    return Finding(start, start + length, finding.entity)
