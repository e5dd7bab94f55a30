"""The one interface every PII detector implements, and what it answers.

A detector takes a batch of texts (every text of one request) and the entities a policy asks
about, and answers, per text, the spans it found. Spans are character offsets into the text.
A detector that cannot answer raises `DetectorUnavailable`; the policy's `onDetectorFailure`
decides what the request gets then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, order=True)
class Finding:
    """`text[start:end]` is an instance of `entity` (a BricksLLM rule name)."""

    start: int
    end: int
    entity: str


class DetectorUnavailable(Exception):
    """The detector could not inspect the texts (timeout, network, credentials, no detector
    serves an entity the policy names)."""


class Detector(Protocol):
    name: str

    @property
    def entities(self) -> frozenset[str]:
        """The entities this detector can find."""
        ...

    def detect(self, texts: Sequence[str], entities: frozenset[str]) -> list[list[Finding]]:
        """For each text, the spans of the wanted `entities` (a subset of `self.entities`)."""
        ...
