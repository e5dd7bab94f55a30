"""Moves journaled events into the database: claim a file, store it in batches, then delete it.

A replay that stops half-way (the database fails again, the process dies) keeps the file for a
later round or another process. Inserts are idempotent by event id, so the events a previous
attempt already stored are skipped, never doubled. A file is deleted only after every one of its
events is stored. An event the database refuses on its own merits is stored again as a cleaned
row (`app.storage.storable.last_resort`: accounting kept, free text made ASCII, metadata dropped);
only if even that is refused does its line move to the rejected file: one bad event must not hold
the journal (and every event behind it) hostage forever.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from app.domain.events import Event
from app.events.codec import CorruptLine, decode
from app.events.journal import ClaimedFile, Journal
from app.events.stats import Counters
from app.storage.database import StorageError
from app.storage.storable import last_resort

log = logging.getLogger(__name__)

Batch = list[tuple[bytes, Event]]  # each event with its journal line, to reject it verbatim


@dataclass
class _FileProgress:
    stored: int = 0
    rejected: int = 0  # events the database refused
    refused: list[bytes] = field(default_factory=list)  # their lines, and unreadable lines


class EventSink(Protocol):
    """Where events are stored; `EventRepository` is the real one."""

    def insert_many(self, events: Sequence[Event]) -> int: ...


def is_data_error(exc: BaseException) -> bool:
    """True when the database refused the events themselves (bad values), not because it is down.

    The driver refuses a value it cannot send (NUL in a string, an integer too large) with a
    ValueError, TypeError or OverflowError; PostgreSQL reports bad data with SQLSTATE classes 22
    and 23. Anything else counts as an outage: retried later, never set aside.
    """
    if isinstance(exc, (ValueError, TypeError, OverflowError)):
        return True
    if not isinstance(exc, StorageError):
        return False
    cause = exc.__cause__
    sqlstate = getattr(cause, "pgcode", None) or ""
    return sqlstate[:2] in ("22", "23") or isinstance(
        cause, (sqlite3.DataError, sqlite3.IntegrityError)
    )


class Replayer:
    def __init__(
        self,
        sink: EventSink,
        journal: Journal,
        batch_size: int,
        counters: Counters,
        stop: threading.Event | None = None,
    ) -> None:
        self._sink = sink
        self._journal = journal
        self._batch_size = batch_size
        self._counters = counters
        self._stop = stop or threading.Event()  # set: finish the current batch, keep the rest

    def replay_all(self, deadline: float | None = None) -> bool:
        """Replay every claimable file; False when the database failed, time ran out or stop."""
        for path in self._journal.claimable():
            if self._interrupted(deadline):
                return False
            claimed = self._journal.claim(path)
            if claimed is not None and not self._replay_file(claimed, deadline):
                return False
        return True

    def _replay_file(self, claimed: ClaimedFile, deadline: float | None) -> bool:
        progress = _FileProgress()
        try:
            for batch in self._batches(claimed, progress):
                if self._interrupted(deadline) or not self._store(batch, progress):
                    claimed.release()
                    return False
            # Set aside only once the whole file went through: a file replayed in several
            # rounds must not copy (or count) its bad lines several times.
            if progress.refused:
                self._journal.reject(progress.refused)
        except BaseException:
            claimed.release()
            raise
        claimed.delete()
        self._counters.add(replayed=progress.stored, rejected=progress.rejected)
        log.info("journal %s replayed (%d events) and deleted", claimed.path.name, progress.stored)
        return True

    def _batches(self, claimed: ClaimedFile, progress: _FileProgress) -> Iterator[Batch]:
        batch: Batch = []
        for line in claimed.lines():
            try:
                batch.append((line, decode(line)))
            except CorruptLine as exc:
                # A torn tail after a crash is expected; anything else is kept for a human.
                log.warning("journal %s: unreadable line set aside (%s)", claimed.path.name, exc)
                progress.refused.append(line)
                continue
            if len(batch) >= self._batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _store(self, batch: Batch, progress: _FileProgress) -> bool:
        """Store the batch; False when the database is down (nothing else to do this round)."""
        try:
            self._sink.insert_many([event for _, event in batch])
        except Exception as exc:
            if not is_data_error(exc):
                log.debug("journal replay paused, the database is unavailable: %s", exc)
                return False
            return self._store_one_by_one(batch, progress)
        progress.stored += len(batch)
        return True

    def _store_one_by_one(self, batch: Batch, progress: _FileProgress) -> bool:
        """Find the events the database refuses, store them as cleaned rows, and the others."""
        for line, event in batch:
            try:
                self._sink.insert_many([event])
            except Exception as exc:
                if not is_data_error(exc):
                    return False
                if not self._store_cleaned(line, event, exc, progress):
                    return False
            else:
                progress.stored += 1
        return True

    def _store_cleaned(
        self, line: bytes, event: Event, refusal: Exception, progress: _FileProgress
    ) -> bool:
        """Store the refused event as a cleaned row; set it aside only if that is refused too."""
        log.warning("event %s refused by the database (%s); storing a cleaned row", event.id,
                    refusal)  # fmt: skip
        try:
            self._sink.insert_many([last_resort(event, type(refusal).__name__)])
        except Exception as exc:
            if not is_data_error(exc):
                return False
            log.error("event %s refused even cleaned, set aside: %s", event.id, exc)
            progress.refused.append(line)
            progress.rejected += 1
        else:
            progress.stored += 1
        return True

    def _interrupted(self, deadline: float | None) -> bool:
        # drain() replays after stopping the loop, so a deadline, when given, overrides stop.
        if deadline is None:
            return self._stop.is_set()
        return time.monotonic() >= deadline
