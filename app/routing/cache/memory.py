"""In-process response cache for the embedded mode (no `REDIS_HOSTS`): one process's answers.

Bounded by `max_bytes`: the least recently used answers are evicted first. Expired answers are
dropped when read or evicted. One lock keeps each call atomic (nothing inside it yields).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

from app.routing.cache.base import CachedAnswer

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class MemoryResponseCache:
    def __init__(
        self, max_bytes: int = DEFAULT_MAX_BYTES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._answers: OrderedDict[str, tuple[CachedAnswer, float]] = OrderedDict()
        self._bytes = 0
        self._flights: dict[str, tuple[str, float]] = {}  # key -> (token, lease end)

    def get(self, key: str) -> CachedAnswer | None:
        with self._lock:
            held = self._answers.get(key)
            if held is None:
                return None
            if held[1] <= self._clock():
                self._drop(key)
                return None
            self._answers.move_to_end(key)
            return held[0]

    def put(self, key: str, answer: CachedAnswer, ttl_s: float) -> None:
        if answer.size > self._max_bytes:
            return
        with self._lock:
            self._drop(key)
            self._answers[key] = (answer, self._clock() + ttl_s)
            self._bytes += answer.size
            while self._bytes > self._max_bytes:
                self._drop(next(iter(self._answers)))

    def try_lock(self, key: str, lease_s: float) -> str | None:
        with self._lock:
            now = self._clock()
            held = self._flights.get(key)
            if held is not None and held[1] > now:
                return None
            token = uuid.uuid4().hex
            self._flights[key] = (token, now + lease_s)
            return token

    def unlock(self, key: str, token: str) -> None:
        with self._lock:
            held = self._flights.get(key)
            if held is not None and held[0] == token:
                del self._flights[key]

    def locked(self, key: str) -> bool:
        with self._lock:
            held = self._flights.get(key)
            return held is not None and held[1] > self._clock()

    def _drop(self, key: str) -> None:
        held = self._answers.pop(key, None)
        if held is not None:
            self._bytes -= held[0].size
