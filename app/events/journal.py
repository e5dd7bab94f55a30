"""The on-disk journal: append-only JSON-lines files where events wait while the database is down.

Ownership is an exclusive `flock`. A process holds the lock on the file it appends to for as long
as it appends to it, and on a file it replays until that file is deleted. The kernel drops a
dead process's locks, so a file left by a crashed worker becomes claimable by any process sharing
the directory, while a file still being written is never taken.

    .new-<token>  --rename, locked-->  events-<pid>-<token>.jsonl   (its writer appends, fsync per batch)
    seal(): the writer closes it        -> claimable by every process's replay loop
    claim(): lock + same-inode check    -> the replayer stores its events, then deletes it

Lines that are not events, and events the database refuses on their own, are copied to
`rejected-<pid>-<token>.jsonl` for a human; nothing there is replayed automatically.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from app.domain.events import Event
from app.events.codec import encode

log = logging.getLogger(__name__)

_PATTERN = "events-*.jsonl"


def _token() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


def _fsync_dir(directory: Path) -> None:
    """Make a created or renamed file's name survive a crash, not only its bytes."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class ClaimedFile:
    """A journal file this process holds the lock on; delete() it once every event is stored."""

    def __init__(self, path: Path, file: BinaryIO) -> None:
        self.path = path
        self._file = file

    def lines(self) -> Iterator[bytes]:
        self._file.seek(0)
        yield from self._file

    def delete(self) -> None:
        """Unlink while still locked, so no other process can claim it in between."""
        try:
            self.path.unlink(missing_ok=True)
        finally:
            self._file.close()

    def release(self) -> None:
        """Keep the file for a later round (or another process) and drop the lock."""
        self._file.close()


class Journal:
    """The journal directory as seen by one process. Safe to share between threads/greenlets."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._active: tuple[Path, int] | None = None  # (path, locked fd) of the file we append to
        self._rejected: tuple[Path, int] | None = None

    def append(self, events: Sequence[Event]) -> None:
        """Write the events durably (fsync'd) before returning; raises OSError if the disk refuses."""
        data = b"".join(encode(event) for event in events)
        with self._lock:
            if self._active is None:
                self._active = self._open_new()
            try:
                _write_all(self._active[1], data)
                os.fsync(self._active[1])
            except OSError:
                # A half-written line must not glue onto the next batch: start a new file.
                self._seal_locked()
                raise

    def has_unsealed(self) -> bool:
        """True when the file this process appends to holds events nobody has replayed yet."""
        with self._lock:
            return self._active is not None

    def seal(self) -> None:
        """Stop appending to the current file (the next append opens a new one) and unlock it."""
        with self._lock:
            self._seal_locked()

    def claimable(self) -> list[Path]:
        """Journal files of this and other processes, oldest first, except the one we append to."""
        try:
            paths = list(self.directory.glob(_PATTERN))
        except OSError:
            return []
        with self._lock:
            active = self._active[0] if self._active else None
        candidates = [p for p in paths if p != active]
        return sorted(candidates, key=_age_key)

    def claim(self, path: Path) -> ClaimedFile | None:
        """Lock a journal file for replay; None when another process owns it or it is gone."""
        try:
            file = open(path, "rb")  # noqa: SIM115 - owned by the ClaimedFile returned
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Between open and lock another replayer may have finished and unlinked it.
            if os.stat(path).st_ino != os.fstat(file.fileno()).st_ino:
                raise FileNotFoundError(path)
        except OSError:  # locked by a live owner (BlockingIOError), or already deleted
            file.close()
            return None
        return ClaimedFile(path, file)

    def reject(self, lines: Sequence[bytes]) -> None:
        """Keep lines that can never be stored, durably, for a human to look at."""
        data = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
        with self._lock:
            if self._rejected is None:
                self._rejected = self._create(f"rejected-{_token()}.jsonl", lock=False)
            _write_all(self._rejected[1], data)
            os.fsync(self._rejected[1])

    def close(self) -> None:
        with self._lock:
            self._seal_locked()
            if self._rejected is not None:
                os.close(self._rejected[1])
                self._rejected = None

    def _open_new(self) -> tuple[Path, int]:
        # Created under a name no replayer looks at, locked, then renamed into view: a replayer
        # can never claim (and delete) a file between its creation and its first lock.
        hidden, fd = self._create(f".new-{_token()}", lock=True)
        path = self.directory / f"events-{hidden.name[len('.new-') :]}.jsonl"
        try:
            os.rename(hidden, path)
            _fsync_dir(self.directory)
        except OSError:
            os.close(fd)
            raise
        return path, fd

    def _create(self, name: str, lock: bool) -> tuple[Path, int]:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        if lock:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a brand-new file: never contended
        return path, fd

    def _seal_locked(self) -> None:
        if self._active is not None:
            os.close(self._active[1])
            self._active = None


def _age_key(path: Path) -> tuple[float, str]:
    try:
        return (path.stat().st_mtime, path.name)
    except OSError:
        return (0.0, path.name)
