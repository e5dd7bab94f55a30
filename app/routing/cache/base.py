"""The response-cache interface: what is stored (`CachedAnswer`) and the `ResponseCache` protocol.

Contract of `ResponseCache` (one contract suite runs it against both backends):
- `get` returns what `put` stored under the key until `ttl_s` has passed, then None.
- `try_lock` takes the key's flight lock for at most `lease_s` and returns a token, or None when
  another holder has it; `unlock` releases it only with the holder's token (a lease that expired
  and was taken by another caller is not released by the late first holder); `locked` tells
  whether any holder has it now. The lock only says "someone is computing this answer": it is
  never needed to read or write answers.
- Every method raises `CacheUnavailable` when the backend cannot be reached; callers treat the
  cache as a miss and serve the request upstream (a cache never makes a request fail).
Only whole successful answers are stored (`cacheable`); never a partial stream.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# Answer headers worth replaying; the rest (dates, rate-limit counters, request ids) belong to
# the upstream call that produced the answer, not to the hit.
KEPT_HEADERS = frozenset({"content-type", "openai-model", "openai-organization", "openai-version"})


class CacheUnavailable(Exception):
    """The cache backend is unreachable or did not answer in time."""


@dataclass(frozen=True)
class CachedAnswer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def encode(self) -> bytes:
        """One value for storage: a JSON head line, then the body as it was."""
        head = json.dumps({"status": self.status, "headers": [list(h) for h in self.headers]})
        return head.encode("utf-8") + b"\n" + self.body

    @classmethod
    def decode(cls, raw: bytes) -> CachedAnswer:
        head, _, body = raw.partition(b"\n")
        parsed = json.loads(head)
        headers = tuple((str(name), str(value)) for name, value in parsed["headers"])
        return cls(int(parsed["status"]), headers, body)

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(n) + len(v) for n, v in self.headers) + 64


def cacheable(status: int, headers: Sequence[tuple[str, str]], body: bytes) -> CachedAnswer | None:
    """The answer to store, or None: only a whole 200 is cached, with its replayable headers."""
    if status != 200:
        return None
    kept = tuple((name, value) for name, value in headers if name.lower() in KEPT_HEADERS)
    return CachedAnswer(status, kept, body)


class ResponseCache(Protocol):
    """Route answers by cache key, with a flight lock per key; see the module docstring."""

    def get(self, key: str) -> CachedAnswer | None: ...

    def put(self, key: str, answer: CachedAnswer, ttl_s: float) -> None: ...

    def try_lock(self, key: str, lease_s: float) -> str | None: ...

    def unlock(self, key: str, token: str) -> None: ...

    def locked(self, key: str) -> bool: ...
