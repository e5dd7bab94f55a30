"""`RouteRunner`: tries a route's plan until an attempt succeeds or must be returned.

The runner owns the order, the waits and the verdicts; the attempt itself (building the upstream
call for the step's provider, sending it, reading the head, peeking a stream's first event) is a
callable the pipeline passes in, so tests run the loop with fakes and a fake clock:

    attempt(step, body_bytes, deadline) -> AttemptResult      # deadline: a `clock()` value

It returns the first success; otherwise the last answer an upstream gave (status and body, e.g.
the second 503), a 4xx at once, or, when no upstream ever answered, a result whose `result` is
None (the pipeline answers 502). Every attempt is in `attempts`, for one event each. Responses
the runner will not return are handed to `release` (close or return their connection).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from app.domain.routes import Route, RouteStep
from app.routing.backoff import backoff_delay, retry_wait
from app.routing.body import apply_step
from app.routing.outcome import AttemptResult, Failure, Verdict, classify
from app.routing.plan import PlannedAttempt, attempt_deadline, attempt_plan

R = TypeVar("R")
AttemptFn = Callable[[RouteStep, bytes, float], AttemptResult[R]]


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt, as its event records it (route id, step provider and model, status)."""

    step_index: int
    try_number: int
    provider: str
    model: str
    status: int | None
    failure: Failure | None
    verdict: Verdict
    elapsed_s: float


@dataclass
class RouteResult(Generic[R]):
    """`result`: what to relay (success, a final error, or the last upstream answer); None when
    no upstream answered at all. `attempts`: every attempt made, in order."""

    result: AttemptResult[R] | None
    attempts: list[AttemptRecord] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].verdict is Verdict.SUCCESS

    @property
    def final_step(self) -> int | None:
        """The step whose answer `result` is (None when there is none)."""
        if self.result is None:
            return None
        answered = [a for a in self.attempts if a.status is not None or a.verdict is Verdict.FINAL]
        return answered[-1].step_index if answered else None


class RouteRunner(Generic[R]):
    def __init__(
        self,
        route: Route,
        attempt: AttemptFn[R],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        release: Callable[[R], None] | None = None,
        step_body: Callable[[Mapping[str, Any], RouteStep], bytes] = apply_step,
    ) -> None:
        self._route = route
        self._step_body = step_body  # the body of a step's attempts, made once per step
        self._attempt = attempt
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._release = release

    def run(self, request: Mapping[str, Any], deadline: float | None = None) -> RouteResult[R]:
        """Try the plan for the parsed client body `request`; `deadline` (a `clock()` value)
        bounds the whole route, waits included."""
        run = _Run[R](self._release)
        bodies: dict[int, bytes] = {}
        for planned in attempt_plan(self._route):
            if planned.step_index in run.skipped:
                continue
            if planned.is_retry and not self._wait(planned, run.previous, deadline):
                run.skipped.add(planned.step_index)
                continue
            if deadline is not None and self._clock() >= deadline:
                break
            if planned.step_index not in bodies:
                bodies[planned.step_index] = self._step_body(request, planned.step)
            if run.stop_after(planned, self._try(planned, bodies[planned.step_index], deadline)):
                break
        return run.outcome()

    def _wait(
        self, planned: PlannedAttempt, previous: AttemptResult[R] | None, deadline: float | None
    ) -> bool:
        """Sleep before a retry; False when the wait does not fit (then the step is given up)."""
        step = planned.step
        delay = backoff_delay(
            self._route.exponential, step.retry_interval_s, planned.try_number, self._rng
        )
        retry_after = previous.retry_after_s if previous is not None else None
        wait = retry_wait(delay, retry_after, self._clock(), deadline)
        if wait is None:
            return False
        if wait > 0:
            self._sleep(wait)
        return True

    def _try(
        self, planned: PlannedAttempt, body: bytes, deadline: float | None
    ) -> tuple[AttemptResult[R], float]:
        started = self._clock()
        result = self._attempt(
            planned.step, body, attempt_deadline(planned.step, started, deadline)
        )
        return result, self._clock() - started


class _Run(Generic[R]):
    """The state of one run: attempts so far, the answer to return, steps given up."""

    def __init__(self, release: Callable[[R], None] | None) -> None:
        self._release = release
        self.attempts: list[AttemptRecord] = []
        self.answer: AttemptResult[R] | None = None
        self.previous: AttemptResult[R] | None = None
        self.skipped: set[int] = set()

    def stop_after(self, planned: PlannedAttempt, tried: tuple[AttemptResult[R], float]) -> bool:
        """Record an attempt; True when the route ends with it."""
        result, elapsed = tried
        verdict = classify(result)
        step = planned.step
        self.attempts.append(AttemptRecord(
            planned.step_index, planned.try_number, step.provider, step.model, result.status,
            result.failure, verdict, elapsed,
        ))  # fmt: skip
        self.previous = result
        if result.answered or verdict is Verdict.FINAL:
            self._keep(result)
        if verdict is Verdict.NEXT_STEP:
            self.skipped.add(planned.step_index)
        return verdict in (Verdict.SUCCESS, Verdict.FINAL)

    def _keep(self, result: AttemptResult[R]) -> None:
        """The newest answer replaces the one kept so far, whose response is released."""
        if self.answer is not None and self.answer.response is not None and self._release:
            self._release(self.answer.response)
        self.answer = result

    def outcome(self) -> RouteResult[R]:
        return RouteResult(self.answer, self.attempts)
