"""The in-flight log: no admitted request goes unrecorded when its worker dies (kill -9, OOM).

An event waits in memory between its request's admission and its row reaching the database: in
the request itself (a stream may last minutes), then in the bus's queue. A worker killed
meanwhile took those events with it. So each process appends, with one unbuffered `write` each
(the page cache keeps it when the process dies; a power loss is not covered):

    admission   -> the event as known so far, marked interrupted (the intent)
    publication -> the final event (it replaces the intent)

to `inflight-<pid>-<token>.jsonl` in `EVENT_JOURNAL_DIR`, locked (`flock`) while the process lives.
The next process to start (the restarted worker) claims files whose owner is gone, keeps the last
record of every event id and hands them to the journal (fsync'd), whose replay stores them: rows
already stored are skipped by id, so nothing is doubled. A request cut by the death is stored with
status 0 and the error `interrupted`, its key, user, model and path, and no tokens (what it used
upstream cannot be known; its reservation lapses with the reservation TTL).

The file is rotated past `max_bytes`: the new file starts with the intents still open, and the
old one is deleted once the bus has stored (or journaled) everything published before.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import orjson

from app.domain.events import Event
from app.events.codec import CorruptLine, decode, encode

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted: the worker ended before the request finished"
_PATTERN = "inflight-*.jsonl"


def encode_fast(event: Event, **overrides: object) -> bytes:
    """`codec.encode`'s line (with `overrides` applied), built by orjson (a fifth of the CPU); the
    codec's own encoder for bodies (base64) and for what orjson refuses (a lone surrogate)."""
    record = {**event.__dict__, "tags": list(event.tags), **overrides}
    if record["request_body"] is not None or record["response_body"] is not None:
        return encode(replace(event, **overrides))  # type: ignore[arg-type]
    try:
        return orjson.dumps(record) + b"\n"
    except TypeError:
        return encode(replace(event, **overrides))  # type: ignore[arg-type]


class InFlightLog:
    def __init__(self, directory: str, max_bytes: int = 8 << 20) -> None:
        self.directory = Path(directory)
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._open: dict[str, bytes] = {}  # event id -> intent line, while its request runs
        self._fd = -1
        self._path: Path | None = None
        self._size = 0
        self._retired: list[tuple[Path, int]] = []  # rotated files, with their locked fds

    # -- the writer ------------------------------------------------------------------------

    def begin(self, event: Event) -> None:
        """The request is admitted: record it, as interrupted until `end` says otherwise."""
        line = encode_fast(event, status=0, error=INTERRUPTED)
        with self._lock:
            self._open[event.id] = line
            self._append(line)

    def end(self, event: Event) -> None:
        """The request's final event is published."""
        line = encode_fast(event)
        with self._lock:
            self._open.pop(event.id, None)
            self._append(line)

    def prune(self, settled: Callable[[], bool]) -> None:
        """Delete rotated files once `settled()` says everything published is stored."""
        if not self._retired or not settled():
            return
        with self._lock:
            retired, self._retired = self._retired, []
        for path, fd in retired:
            path.unlink(missing_ok=True)
            os.close(fd)

    def close(self, drained: bool) -> None:
        """At exit, once the bus is drained: the files go when every event reached the database
        or the journal and no request is still running; otherwise they stay, unlocked, for the
        next process to recover."""
        with self._lock:
            files = [*self._retired, *([(self._path, self._fd)] if self._path else [])]
            keep = not drained or bool(self._open)
            self._retired, self._path, self._fd = [], None, -1
        for path, fd in files:
            if not keep:
                path.unlink(missing_ok=True)
            os.close(fd)

    def _append(self, line: bytes) -> None:
        try:
            if self._fd < 0 or self._size + len(line) > self._max_bytes:
                self._rotate()
            os.write(self._fd, line)
            self._size += len(line)
        except OSError as exc:  # a full disk must not fail the request; the bus still records it
            log.error("in-flight log write failed (%s); a crash now could lose this event", exc)

    def _rotate(self) -> None:
        if self._path is not None:
            self._retired.append((self._path, self._fd))
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"inflight-{os.getpid()}-{uuid.uuid4().hex[:12]}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._path, self._fd, self._size = path, fd, 0
        carried = b"".join(self._open.values())  # the requests still running start the new file
        if carried:
            os.write(fd, carried)
            self._size = len(carried)


def recover(directory: str, store: Callable[[list[Event]], None]) -> int:
    """Hand the events of every in-flight file whose process is gone to `store` (the journal),
    then delete the file; how many events were recovered."""
    recovered = 0
    for path in sorted(Path(directory).glob(_PATTERN)):
        fd = _claim(path)
        if fd is None:
            continue
        try:
            events = list(_last_records(_lines(path)))
            if events:
                store(events)
                recovered += len(events)
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    if recovered:
        log.warning("recovered %d events of requests in flight in a worker that died", recovered)
    return recovered


def _claim(path: Path) -> int | None:
    """The file's fd, locked, when no live process holds it; None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _lines(path: Path) -> Iterable[bytes]:
    with path.open("rb") as file:
        yield from file


def _last_records(lines: Iterable[bytes]) -> Iterable[Event]:
    """The last record of each event id, in first-seen order; a torn last line is skipped."""
    found: dict[str, Event] = {}
    for line in lines:
        try:
            event = decode(line)
        except CorruptLine:
            continue
        found[event.id] = event
    return found.values()
