"""Counters of the event pipeline, shared by its consumers and its replay loop."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class BusStats:
    """A snapshot, for tests and logs. Every count is of events, not batches."""

    queued: int = 0  # accepted into the in-memory queue
    pending: int = 0  # in the queue right now
    written: int = 0  # stored by a consumer
    journaled: int = 0  # appended to the journal (queue full, database down, drain)
    replayed: int = 0  # read back from the journal and stored
    rejected: int = 0  # refused by the database on their own; kept in a rejected-*.jsonl file
    lost: int = 0  # neither stored nor journaled (the disk refused too); logged as errors


class Counters:
    """Thread- and greenlet-safe running totals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals = BusStats()

    def add(self, **deltas: int) -> None:
        with self._lock:
            current = self._totals
            changes = {name: getattr(current, name) + delta for name, delta in deltas.items()}
            self._totals = dataclasses.replace(current, **changes)

    def snapshot(self, pending: int) -> BusStats:
        with self._lock:
            return dataclasses.replace(self._totals, pending=pending)
