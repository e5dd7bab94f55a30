"""Stage 5: the key's policy on the outgoing call: block or redact personal data.

The policy engine (`app/policies/engine.py`) inspects the call's texts; a blocked request is
refused (403 `request blocked`, nothing forwarded), a redacted one goes on as a new call whose body
has each match replaced by `***` (the event row keeps that body, never the original), a warned one
goes on unchanged. The event records the policy id and the action. A detector that cannot answer
refuses the request with 503 unless the policy lets traffic through unchecked.

Large bodies are inspected on a native thread of gevent's pool, so a 400 KB prompt does not hold
the hub (and every other request of the worker) for the whole scan.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gevent
import orjson

from app.domain.policies import BLOCKED, REDACTED, Policy
from app.errors import ProxyError
from app.policies.engine import EntityDetector, Outcome, PolicyUnavailable, inspect_request
from app.proxy.context import RequestContext
from app.proxy.outgoing import OutgoingCall

OFF_HUB_BODY_BYTES = 32 * 1024  # above this a scan could hold the hub for milliseconds


def apply_policy(
    ctx: RequestContext,
    call: OutgoingCall,
    policies: dict[str, Policy],
    detectors: EntityDetector,
) -> OutgoingCall:
    policy = policies.get(call.key.policy_id) if call.key.policy_id else None
    if policy is None:
        return call
    ctx.policy_id = policy.id
    try:
        outcome = _inspect(policy, detectors, call.body, call.parsed)
    except PolicyUnavailable as exc:
        raise ProxyError(503, "the policy cannot be checked right now; nothing was sent") from exc
    ctx.policy_action = outcome.action
    if outcome.action == BLOCKED:
        raise ProxyError(403, "request blocked", error_type="policy_violation")
    if outcome.action != REDACTED:
        return call
    return replace(call, body=outcome.body, parsed=orjson.loads(outcome.body))


def _inspect(policy: Policy, detectors: EntityDetector, body: bytes, parsed: Any) -> Outcome:
    if len(body) <= OFF_HUB_BODY_BYTES:
        return inspect_request(policy, detectors, body, parsed)
    pool = gevent.get_hub().threadpool
    outcome: Outcome = pool.apply(inspect_request, (policy, detectors, body, parsed))
    return outcome
