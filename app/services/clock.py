"""Time and ids for new records, in one place.

Ids are UUIDv7-shaped (RFC 9562): a millisecond timestamp first, so ids sort by creation time,
which gives stable "created order" listings and compact index inserts for events.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_sequence = 0


def now_s() -> int:
    return int(time.time())


def new_id() -> str:
    """A time-ordered UUID string; strictly increasing within this process."""
    global _last_ms, _sequence
    with _lock:
        ms = int(time.time() * 1000)
        if ms <= _last_ms:
            _sequence += 1
            if _sequence > 0xFFF:  # more than 4096 ids in one millisecond: borrow the next one
                _last_ms, _sequence = _last_ms + 1, 0
            ms = _last_ms
        else:
            _sequence = 0
        _last_ms = ms
        sequence = _sequence
    rand_a = sequence & 0xFFF  # 12 bits: order within one millisecond
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))
