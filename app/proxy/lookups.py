"""Single-flight, rate-bounded database lookups for what the proxy's snapshot does not know yet.

A request that needs an identity (a key hash, a userId) the snapshot lacks joins the *open* batch:
the one whose query has not started. The first request of a batch leads it: it waits until at
least `min_interval_s` has passed since the previous query started, closes the batch, runs one
query for every identity in it and wakes the others. So a worker sends at most one query per
interval, one at a time, however many unknown identities arrive (a flood of random keys costs
the database almost nothing); and since a batch closes only when its query starts, every lookup
reads the database after its request arrived (a key the admin API has just stored is found).

A batch holds at most `max_batch` identities; beyond that a request is answered "unavailable" at
once (counted in `shed`) rather than queued without bound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from app.storage.database import StorageError

log = logging.getLogger(__name__)

I = TypeVar("I", bound=Hashable)  # noqa: E741 - an identity
V = TypeVar("V")


@dataclass
class _Batch(Generic[I, V]):
    idents: set[I] = field(default_factory=set)
    found: dict[I, V] = field(default_factory=dict)
    failed: bool = False
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Answer(Generic[V]):
    """What the database said: `value` (None: not stored), or `failed` (no answer in time)."""

    value: V | None = None
    failed: bool = False


class BatchedLookup(Generic[I, V]):
    def __init__(
        self,
        fetch: Callable[[list[I]], dict[I, V]],
        min_interval_s: float = 0.05,
        max_batch: int = 1000,
        wait_s: float = 5.0,
    ) -> None:
        self._fetch = fetch
        self._interval = min_interval_s
        self._max_batch = max_batch
        self._wait_s = wait_s
        self._lock = threading.Lock()  # guards the open batch
        self._flight = threading.Lock()  # one query at a time
        self._open: _Batch[I, V] | None = None
        self._next_at = 0.0
        self.queries = 0
        self.asked = 0
        self.shed = 0

    def get(self, ident: I) -> Answer[V]:
        with self._lock:
            self.asked += 1
            batch = self._open
            leader = batch is None
            if batch is None:
                batch = self._open = _Batch()
            elif len(batch.idents) >= self._max_batch and ident not in batch.idents:
                self.shed += 1
                return Answer(failed=True)
            batch.idents.add(ident)
        if leader:
            self._run(batch)
        elif not batch.done.wait(self._wait_s):
            return Answer(failed=True)
        if batch.failed:
            return Answer(failed=True)
        return Answer(batch.found.get(ident))

    def _run(self, batch: _Batch[I, V]) -> None:
        try:
            with self._flight:
                delay = self._next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # gevent's sleep in a worker: yields
                with self._lock:
                    if self._open is batch:
                        self._open = None  # later requests start the next batch
                self._next_at = time.monotonic() + self._interval
                self.queries += 1
                batch.found = self._fetch(list(batch.idents))
        except StorageError as exc:
            batch.failed = True
            log.warning("lookup of %d unknown identities failed: %s", len(batch.idents), exc)
        except Exception:  # a fault of ours must not fail the requests waiting on the batch
            batch.failed = True
            log.exception("lookup of %d unknown identities failed", len(batch.idents))
        finally:
            batch.done.set()
