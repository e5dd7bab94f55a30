"""The one call the proxy's policy stage makes: the verdict on a request body, with a block or a
detector failure raised as the proxy error the client gets.

    outcome = check_request(policy, detectors, body, parsed)   # may raise RequestBlocked (403)
                                                                # or PolicyCheckFailed (503)
    forward outcome.body; record outcome.action ("allowed", "warned", "redacted")

Both errors carry what the event needs (`policy_id`, and for a block the outcome, whose
`reasons("block")` names the entities and regexes, never the matched text).
"""

from __future__ import annotations

from typing import Any

from app.domain.policies import BLOCKED, Policy
from app.errors import ProxyError
from app.policies.engine import EntityDetector, Outcome, PolicyUnavailable
from app.policies.offload import inspect_request_cooperatively


class RequestBlocked(ProxyError):
    """403 `[BricksLLM] request blocked`: nothing is forwarded; the event says `blocked`."""

    def __init__(self, policy_id: str, outcome: Outcome) -> None:
        super().__init__(403, "request blocked")
        self.policy_id = policy_id
        self.outcome = outcome


class PolicyCheckFailed(ProxyError):
    """503: a detector could not answer and the policy blocks rather than forward unchecked."""

    def __init__(self, policy_id: str, reason: str) -> None:
        super().__init__(503, "the request could not be checked against its key's policy")
        self.policy_id = policy_id
        self.reason = reason  # for logs: which detector failed, never the request's text


def check_request(
    policy: Policy | None, detectors: EntityDetector, body: bytes, parsed: Any
) -> Outcome:
    """The outcome to forward and record; raises RequestBlocked or PolicyCheckFailed."""
    try:
        outcome = inspect_request_cooperatively(policy, detectors, body, parsed)
    except PolicyUnavailable as exc:
        assert policy is not None  # only a policy's detectors can fail
        raise PolicyCheckFailed(policy.id, str(exc)) from exc
    if outcome.action == BLOCKED:
        assert policy is not None
        raise RequestBlocked(policy.id, outcome)
    return outcome
