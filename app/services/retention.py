"""Event retention: with `EVENT_RETENTION_DAYS` set, the admin process deletes events (and their
bodies) older than that many days, in small batches, so the proxy's inserts never wait long.

One background thread per admin process (a greenlet under the gevent worker) owns the loop, logs
its failures and keeps going; several admin workers may each run it, as a delete is idempotent.
"""

from __future__ import annotations

import logging
import threading

from app.services.clock import now_s
from app.storage.events import EventRepository

DAY_S = 86_400
log = logging.getLogger(__name__)


class EventRetention:
    def __init__(
        self,
        events: EventRepository,
        days: int,
        interval_s: float = 3600.0,
        batch_size: int = 5000,
        pause_s: float = 0.05,
    ) -> None:
        if days < 1:
            raise ValueError("retention needs at least one day")
        self._events = events
        self._days = days
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._pause_s = pause_s  # between batches: other writers get the table in between
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, now: int | None = None) -> int:
        """Delete every event created more than `days` days before `now`, batch by batch;
        return how many went."""
        cutoff = (now_s() if now is None else now) - self._days * DAY_S
        deleted = 0
        while not self._stop.is_set():
            batch = self._events.delete_older_than(cutoff, self._batch_size)
            deleted += batch
            if batch < self._batch_size:
                break
            self._stop.wait(self._pause_s)
        return deleted

    def start(self) -> EventRetention:
        """Run `run_once` now and then every `interval_s` until `stop`."""
        self._thread = threading.Thread(target=self._loop, name="event-retention", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                deleted = self.run_once()
                if deleted:
                    log.info(
                        "event retention: deleted %d events older than %d days", deleted, self._days
                    )
            except Exception:  # the loop outlives a database outage; the next pass retries
                log.exception("event retention pass failed")
            self._stop.wait(self._interval_s)
