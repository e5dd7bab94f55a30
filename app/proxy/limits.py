"""Stage 6: rate and spend limits, checked and reserved atomically before the call.

Redis down: rate-only requests fail open and requests under a cost limit fail closed (503), both
configurable; requests admitted without their limits are logged and counted (`FailOpen`). A model
without a price is refused (400) only when a cost limit must be enforced.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from app.counters.base import (
    CostLimit,
    CountersUnavailable,
    Denial,
    LimitCounters,
    RateLimit,
    Unseeded,
)
from app.domain.entities import Limits, User
from app.errors import ProxyError
from app.providers.base import OperationKind, Usage
from app.providers.costs import Pricer
from app.proxy.context import RequestContext
from app.proxy.outgoing import OutgoingCall
from app.proxy.output_hint import unbounded_output_hint

log = logging.getLogger(__name__)


@dataclass
class FailOpen:
    """What a request gets while the counters cannot answer (`RATE_LIMIT_FAIL_OPEN`,
    `COST_LIMIT_FAIL_OPEN`), and the tally of those admitted without their limits: one warning when
    an outage starts, and one with the count when the counters answer again (per worker)."""

    rate_limits: bool
    cost_limits: bool
    admitted_in_outage: int = 0
    admitted_total: int = 0

    def admits(self, has_cost_limits: bool) -> bool:
        return self.cost_limits if has_cost_limits else self.rate_limits

    def count_admission(self, reason: Exception) -> None:
        self.admitted_in_outage += 1
        self.admitted_total += 1
        if self.admitted_in_outage == 1:
            log.warning("counters unavailable, admitting requests without their limits: %s", reason)

    def counters_answered(self) -> None:
        if self.admitted_in_outage:
            log.warning("counters answer again; %d requests were admitted without their limits meanwhile "
                        "(%d since this worker started)", self.admitted_in_outage, self.admitted_total)  # fmt: skip
            self.admitted_in_outage = 0


def limits_of(scope: str, limits: Limits) -> tuple[list[RateLimit], list[CostLimit]]:
    rates = []
    if limits.rate_limit_over_time and limits.rate_limit_unit:
        rates.append(RateLimit(scope, limits.rate_limit_over_time, limits.rate_limit_unit))
    costs = []
    if limits.cost_limit_micros:
        costs.append(CostLimit(scope, limits.cost_limit_micros, None))
    if limits.cost_limit_over_time_micros and limits.cost_limit_unit:
        costs.append(CostLimit(scope, limits.cost_limit_over_time_micros, limits.cost_limit_unit))
    return rates, costs


def _denial_error(denial: Denial, call: OutgoingCall) -> ProxyError:
    limit = denial.limit
    user = call.user
    who = f"user {user.user_id}" if user and limit.scope == _user_scope(user) else "key"
    if isinstance(limit, RateLimit):
        message = f"{who} rate limit exceeded: {limit.limit} requests per {limit.unit}"
    elif limit.unit is None:
        message = f"{who} total cost limit of ${limit.limit_micros / 1e6:g} reached"
    else:
        message = f"{who} cost limit of ${limit.limit_micros / 1e6:g} per {limit.unit} reached"
    return ProxyError(429, message, retry_after=denial.retry_after_s)


def _user_scope(user: User) -> str:
    return f"user:{user.id}"


def request_limits(call: OutgoingCall) -> tuple[list[RateLimit], list[CostLimit]]:
    """The key's limits, and its user's when the request is bound to one: admitted together."""
    rates, costs = limits_of(f"key:{call.key.key_id}", call.key.limits)
    if call.user is not None:
        user_rates, user_costs = limits_of(_user_scope(call.user), call.user.limits)
        rates, costs = rates + user_rates, costs + user_costs
    return rates, costs


def _estimate(ctx: RequestContext, call: OutgoingCall, pricer: Pricer) -> int:
    """The cost held while the call runs; a request that cannot be priced cannot be held (400,
    saying what cannot be priced and how to fix it)."""
    operation, table = call.operation, call.adapter.prices
    unpriced = pricer.unpriced_reason(operation, call.model, call.parsed, call.setting, table)
    if unpriced is not None:
        raise ProxyError(400, f"this key has a cost limit and {unpriced}")
    estimate = pricer.estimate(
        operation, call.model, call.parsed, len(call.body), call.setting, table
    )
    if operation.kind is OperationKind.TRANSCRIPTION:
        # A transcription's price is known before the call: the uploaded audio's duration.
        seconds = ctx.upload_seconds()
        if seconds is not None:
            usage = Usage(audio_seconds=seconds)
            estimate = max(
                estimate, pricer.cost(operation, call.model, usage, call.setting, None, table)
            )
    return estimate


def reserve(
    ctx: RequestContext,
    call: OutgoingCall,
    counters: LimitCounters,
    pricer: Pricer,
    fail_open: FailOpen,
    now: float,
    alternatives: Sequence[OutgoingCall] = (),
) -> None:
    """Admit the request against the key's (and its user's) limits, holding its estimated cost
    (for a route, the dearest of its steps' calls, `alternatives`, since any of them may serve)."""
    rates, costs = request_limits(call)
    if not rates and not costs:
        ctx.limit_decision = "no_limits"
        return
    estimate = max(_estimate(ctx, c, pricer) for c in (call, *alternatives)) if costs else 0
    try:
        outcome = counters.admit(rates, costs, estimate, now)
        if isinstance(outcome, Unseeded):  # app.counters.reseed seeds them; never seen behind it
            raise CountersUnavailable(f"the counter of {outcome.limit.scope} is not seeded")
    except CountersUnavailable as exc:
        if not fail_open.admits(bool(costs)):
            ctx.limit_decision = "unavailable"
            raise ProxyError(503, "limits cannot be checked right now; try again shortly") from exc
        fail_open.count_admission(exc)
        ctx.limit_decision = "fail_open"
        return
    fail_open.counters_answered()
    if isinstance(outcome, Denial):
        ctx.limit_decision = (
            "rate_limited" if isinstance(outcome.limit, RateLimit) else "cost_limited"
        )
        error = _denial_error(outcome, call)
        if isinstance(outcome.limit, CostLimit):
            error.message += _output_hint(call, counters, pricer, outcome.limit, now)
        raise error
    ctx.limit_decision = "admitted"
    ctx.reservation = outcome


def _output_hint(call: OutgoingCall, counters: LimitCounters, pricer: Pricer,
                 limit: CostLimit, now: float) -> str:  # fmt: skip
    """app/proxy/output_hint.py: the max_tokens that would fit, when the output bound is why."""
    try:
        left = max(0, limit.limit_micros - counters.spend(limit, now))
    except CountersUnavailable:
        return ""
    return unbounded_output_hint(pricer, call.operation, call.model, call.parsed, len(call.body),
                                 call.setting, call.adapter.prices, left)  # fmt: skip


def settle(ctx: RequestContext, counters: LimitCounters, actual_micros: int) -> None:
    """Replace the reservation by the actual cost; never raises into the response."""
    reservation, ctx.reservation = ctx.reservation, None
    if reservation is None:
        return
    try:
        counters.settle(reservation, actual_micros)
    except CountersUnavailable as exc:
        key_id = ctx.key.key_id if ctx.key else ""
        log.error("could not settle %d micro-dollars for key %s: %s", actual_micros, key_id, exc)
