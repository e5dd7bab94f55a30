"""The attempts a route allows: its steps in order, each tried `retries + 1` times, each try with
its own timeout (the step's, cut short by the request's deadline when that comes first)."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.routes import Route, RouteStep


@dataclass(frozen=True)
class PlannedAttempt:
    step_index: int
    step: RouteStep
    try_number: int  # 0 = the step's first try

    @property
    def is_retry(self) -> bool:
        return self.try_number > 0


def attempt_plan(route: Route) -> list[PlannedAttempt]:
    return [
        PlannedAttempt(index, step, try_number)
        for index, step in enumerate(route.steps)
        for try_number in range(step.retries + 1)
    ]


def attempt_deadline(step: RouteStep, now: float, deadline: float | None) -> float:
    """When this try gives up: the step's timeout from now, or the request's deadline if sooner."""
    own = now + step.timeout_s
    return own if deadline is None else min(own, deadline)
