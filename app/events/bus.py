"""The event bus: the proxy publishes one event per request; consumers store them in batches.

    publish() --put_nowait--> bounded queue --> N consumers --insert_many--> database
        | queue full                               | database down
        v                                          v
      journal (disk, fsync'd) <---------------------+
        '--> replay loop, every retry_interval_s --insert_many--> database

Plain `threading` and `queue`: unpatched in tests and the Flask test client; under gunicorn's
gevent worker, monkey-patching turns the consumers and the replay loop into greenlets. publish()
never waits on the database and never raises. While the database is down, consumers append to
the journal without trying it (one failed write is enough to know), until the replay loop has
stored the journal again. drain() stops intake, stores or journals what is queued, and reports
whether anything was lost.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from app.domain.events import Event
from app.events.inflight import InFlightLog, recover
from app.events.journal import Journal
from app.events.replay import EventSink, Replayer, is_data_error
from app.events.stats import BusStats, Counters

log = logging.getLogger(__name__)

_STOP = None  # in the queue: tells one consumer to finish its batch and exit


class EventBus:
    def __init__(
        self,
        repository: EventSink,
        consumers: int,
        queue_size: int,
        journal_dir: str,
        batch_size: int = 200,
        flush_interval_s: float = 0.05,
        retry_interval_s: float = 1.0,
        inflight: InFlightLog | None = None,
    ) -> None:
        self._repository = repository
        self._consumer_count = consumers
        self._queue: queue.Queue[Event | None] = queue.Queue(maxsize=queue_size)
        self._journal = Journal(journal_dir)
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._retry_interval_s = retry_interval_s
        self._counters = Counters()
        self._stop = threading.Event()  # stops the replay loop
        self._replayer = Replayer(repository, self._journal, batch_size, self._counters, self._stop)
        self._intake = threading.Lock()  # orders publish() against drain() closing the queue
        self._closed = False
        self._overflowing = False  # to warn once per overflow, not once per event
        self._outage = threading.Event()  # set while the database refuses writes
        self._workers: list[threading.Thread] = []
        self._replay_thread: threading.Thread | None = None
        self._in_flight: dict[int, list[Event]] = {}  # consumer index -> batch being written
        self._in_flight_lock = threading.Lock()
        self._inflight = inflight  # the proxy's record of admitted requests (kill -9)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the consumers and the replay loop, which first replays any journal left behind."""
        if self._workers:
            raise RuntimeError("the event bus is already started")
        if self._inflight is not None:
            # Requests of a worker that died: into the journal, which the replay loop stores.
            recover(str(self._inflight.directory), self._journal.append)
        for index in range(self._consumer_count):
            self._workers.append(self._spawn(f"event-consumer-{index}", self._consume, index))
        self._replay_thread = self._spawn("event-replay", self._replay_loop)

    def drain(self, timeout_s: float) -> bool:
        """Stop intake, store what is queued, journal what cannot be stored in time.

        Events published afterwards go straight to the journal. Returns True when nothing was
        lost (every event accepted so far is stored or journaled).
        """
        deadline = time.monotonic() + timeout_s
        with self._intake:
            self._closed = True
        self._stop_consumers(deadline)
        self._stop.set()
        self._spill_leftovers()
        if self._replay_thread is not None:
            self._replay_thread.join(max(0.0, deadline - time.monotonic()))
        if not self._outage.is_set() and time.monotonic() < deadline:
            # Journaled events (queue overflow) go in now: the next process may never come, and
            # an ephemeral disk (a Heroku dyno) does not outlive this one.
            self._replay_round(deadline)
        self._journal.close()
        stats = self.stats()
        log.info("event bus drained: %s", stats)
        if self._inflight is not None:
            self._inflight.close(drained=stats.lost == 0 and self._settled())
        return stats.lost == 0

    def _settled(self) -> bool:
        """Nothing queued and no batch being written."""
        with self._in_flight_lock:
            writing = any(self._in_flight.values())
        return self._queue.empty() and not writing

    @property
    def database_down(self) -> bool:
        """True while the database refuses writes (events go to the journal)."""
        return self._outage.is_set()

    def stats(self) -> BusStats:
        return self._counters.snapshot(pending=self._queue.qsize())

    # -- request path ----------------------------------------------------------------------

    def begin(self, event: Event) -> None:
        """A request was admitted (`event` as known so far): recorded until it is published."""
        if self._inflight is not None:
            self._inflight.begin(event)

    def publish(self, event: Event) -> None:
        """Queue the event; if the queue is full or closed, journal it. Never raises."""
        if self._inflight is not None:
            self._inflight.end(event)
        try:
            with self._intake:
                if not self._closed:
                    self._queue.put_nowait(event)
                    self._counters.add(queued=1)
                    self._overflowing = False
                    return
        except queue.Full:
            if not self._overflowing:
                self._overflowing = True
                log.warning("event queue full (%d); events go to the journal", self._queue.maxsize)
        except Exception:
            log.exception("event %s could not be queued; journaling it", event.id)
        self._spill([event])

    # -- consumers -------------------------------------------------------------------------

    def _consume(self, index: int) -> None:
        while True:
            batch: list[Event] = []
            # Registered while it fills, so drain() can journal it if this write hangs.
            with self._in_flight_lock:
                self._in_flight[index] = batch
            try:
                stop = self._fill(batch)
                if batch:
                    self._write(batch)
                if stop:
                    return
            except Exception:
                log.exception("event consumer %d failed; it keeps going", index)
                self._spill(batch)  # whatever it held is not lost with the failure
                time.sleep(0.1)
            finally:
                with self._in_flight_lock:
                    self._in_flight.pop(index, None)
            if self._inflight is not None and self._queue.empty():
                self._inflight.prune(self._settled)

    def _fill(self, batch: list[Event]) -> bool:
        """Up to batch_size events: wait for one, then at most flush_interval_s for more.
        Returns True when told to stop."""
        item = self._queue.get()
        fill_until = time.monotonic() + self._flush_interval_s
        while item is not _STOP:
            batch.append(item)
            if len(batch) >= self._batch_size:
                return False
            try:
                item = self._queue.get(timeout=max(0.0, fill_until - time.monotonic()))
            except queue.Empty:
                return False
        return True

    def _write(self, batch: list[Event]) -> None:
        if self._outage.is_set():
            self._spill(batch)
            return
        try:
            self._repository.insert_many(batch)
        except Exception as exc:
            self._on_write_failure(batch, exc)
        else:
            self._counters.add(written=len(batch))

    def _on_write_failure(self, batch: list[Event], exc: Exception) -> None:
        if is_data_error(exc):
            # The replay loop stores them one by one and sets the bad one aside.
            log.error("a batch of %d events was refused (%s); journaled", len(batch), exc)
        else:
            self._mark_down(exc)
        self._spill(batch)

    def _mark_down(self, reason: object) -> None:
        if not self._outage.is_set():
            self._outage.set()
            log.warning(
                "database unavailable (%s); events go to the journal until it is back", reason
            )

    def _mark_up(self) -> None:
        if self._outage.is_set():
            self._outage.clear()
            log.info("database is back; events are written directly again")

    def _spill(self, events: list[Event]) -> None:
        try:
            self._journal.append(events)
        except Exception:
            log.exception("LOST %d events: the journal in %s refused them",
                          len(events), self._journal.directory)  # fmt: skip
            self._counters.add(lost=len(events))
        else:
            self._counters.add(journaled=len(events))

    # -- replay ----------------------------------------------------------------------------

    def _replay_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._replay_round()
            except Exception:
                log.exception(
                    "event journal replay failed; retrying in %ss", self._retry_interval_s
                )
            self._stop.wait(self._retry_interval_s)

    def _replay_round(self, deadline: float | None = None) -> None:
        stored = self._replayer.replay_all(deadline)
        if stored and self._journal.has_unsealed():
            # Our own file is sealed only once older files went in: while the database stays
            # down this keeps one file growing instead of a new file every retry.
            self._journal.seal()
            stored = self._replayer.replay_all(deadline)
        if stored:
            self._mark_up()
        elif deadline is None and not self._stop.is_set():  # a failed write, not a stop
            self._mark_down("journal replay failed")

    # -- shutdown --------------------------------------------------------------------------

    def _stop_consumers(self, deadline: float) -> None:
        for _ in self._workers:
            try:
                self._queue.put(_STOP, timeout=max(0.001, deadline - time.monotonic()))
            except queue.Full:
                break
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def _spill_leftovers(self) -> None:
        """Journal what the consumers did not get to, and batches stuck in a hung write.

        A stuck write that later commits after all is harmless: replay skips stored ids.
        """
        leftovers: list[Event] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                leftovers.append(item)
        with self._in_flight_lock:
            stuck = [event for batch in self._in_flight.values() for event in batch]
        for chunk_start in range(0, len(leftovers), self._batch_size):
            self._spill(leftovers[chunk_start : chunk_start + self._batch_size])
        if stuck:
            log.warning("%d events in a write that did not finish in time; journaled", len(stuck))
            self._spill(stuck)

    @staticmethod
    def _spawn(name: str, target: Callable[..., None], *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        return thread
