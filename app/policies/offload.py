"""The policy stage under gevent: `inspect_request` pausing with `gevent.idle()` between
windows, so a large prompt is inspected piecewise and the hub serves the worker's other
requests in between.

Pattern matching on a 400 KB prompt dense with PII takes over 100 ms of CPU; in one piece it
would stall every stream of the worker for that long. Measured (bench/policy_cpu.py): with
windows of 4 KB, no stretch holds the hub for more than about 5 ms of CPU. `gevent.idle()`
rather than `gevent.sleep(0)`: it returns only once the loop has run its pending I/O and timers,
whereas sleep(0) can resume this greenlet before a timer that is due has fired. Small bodies
are a single window and never pause.
"""

from __future__ import annotations

from typing import Any

import gevent

from app.domain.policies import Policy
from app.policies.engine import EntityDetector, Outcome, inspect_request


def _yield() -> None:
    gevent.idle()  # after the loop has served pending I/O and due timers


def inspect_request_cooperatively(
    policy: Policy | None, detectors: EntityDetector, body: bytes, parsed: Any
) -> Outcome:
    """`inspect_request` yielding to other greenlets between windows of long texts."""
    return inspect_request(policy, detectors, body, parsed, pause=_yield)
