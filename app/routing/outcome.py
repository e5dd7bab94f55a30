"""What one attempt reports, and what the route does next because of it.

Retryable (try again, then fail over): a 5xx, a 429, a timeout, a connection failure.
Returned at once: a 2xx (success) and any other status (the client's error: a 4xx is not made
better by another provider). A refused upstream address is a configuration error: that step is
not tried again, the next step is. Once a streaming attempt has sent its first byte to the client
(`committed`), nothing else can be tried: the route stops with it whatever happens later.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Generic, TypeVar

R = TypeVar("R")


class Failure(enum.Enum):
    """Why no upstream answer came."""

    TIMEOUT = "timeout"  # no answer before the attempt's deadline
    CONNECTION = "connection"  # refused, reset or closed before the head of an answer
    REFUSED_ADDRESS = "refused_address"  # the upstream resolves to a forbidden address


class Verdict(enum.Enum):
    SUCCESS = "success"  # relay it
    RETRY = "retry"  # try this step again, or the next step
    NEXT_STEP = "next_step"  # skip this step's remaining tries
    FINAL = "final"  # relay it: the client's error, or a stream already started


@dataclass(frozen=True)
class AttemptResult(Generic[R]):
    """One attempt as the attempt callable reports it.

    `response` is the caller's own upstream response object, handed back untouched; `status` is
    None when no upstream answered (`failure` says why). `retry_after_s` is the upstream's
    `Retry-After`, in seconds (see `backoff.parse_retry_after`). `committed`: bytes of this
    attempt already reached the client.
    """

    status: int | None = None
    response: R | None = None
    failure: Failure | None = None
    retry_after_s: float | None = None
    committed: bool = False

    @property
    def answered(self) -> bool:
        return self.status is not None


def answered(
    status: int, response: R, retry_after_s: float | None = None, committed: bool = False
) -> AttemptResult[R]:
    return AttemptResult(status, response, None, retry_after_s, committed)


def failed(failure: Failure, committed: bool = False) -> AttemptResult[R]:
    return AttemptResult(None, None, failure, None, committed)


def is_retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def classify(result: AttemptResult[R]) -> Verdict:
    status = result.status
    if status is not None and 200 <= status < 300:
        return Verdict.SUCCESS
    if result.committed:
        return Verdict.FINAL
    if status is None:
        return Verdict.NEXT_STEP if result.failure is Failure.REFUSED_ADDRESS else Verdict.RETRY
    return Verdict.RETRY if is_retryable_status(status) else Verdict.FINAL
