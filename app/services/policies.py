"""Policy management: create, update, get, list by tags and delete policies.

The schema (`schemas/policies.py`) has already checked entity names, actions and that RE2 compiles
each regex; this module turns the wire shape into a `Policy` and stores it. Every write bumps the
config version (in the repository), so proxies pick the change up at their next refresh.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from app.domain.policies import Policy, RegexRule
from app.errors import BadRequest, NotFound
from app.services.clock import new_id, now_s
from app.storage.policies import PolicyInUse, PolicyRepository


class PolicyService:
    def __init__(self, policies: PolicyRepository) -> None:
        self._policies = policies

    def create(self, data: dict[str, Any]) -> Policy:
        now = now_s()
        policy = Policy(
            id=new_id(),
            created_at=now,
            updated_at=now,
            name=data.get("name", ""),
            tags=tuple(data.get("tags", ())),
            rules=_rules(data.get("config")),
            regex_rules=_regex_rules(data.get("regexConfig")),
            redact_responses=data.get("redactResponses", False),
            on_detector_failure=data.get("onDetectorFailure", "block"),
        )
        return self._policies.create(policy)

    def update(self, policy_id: str, data: dict[str, Any]) -> Policy:
        """Every field is optional; `config` and `regexConfig` replace the stored ones whole
        (null removes them)."""
        current = self.get(policy_id)
        changes: dict[str, Any] = {"updated_at": now_s()}
        if "name" in data:
            changes["name"] = data["name"]
        if "tags" in data:
            changes["tags"] = tuple(data["tags"])
        if "config" in data:
            changes["rules"] = _rules(data["config"])
        if "regexConfig" in data:
            changes["regex_rules"] = _regex_rules(data["regexConfig"])
        if "redactResponses" in data:
            changes["redact_responses"] = data["redactResponses"]
        if "onDetectorFailure" in data:
            changes["on_detector_failure"] = data["onDetectorFailure"]
        return self._policies.replace(dataclasses.replace(current, **changes))

    def get(self, policy_id: str) -> Policy:
        policy = self._policies.get(policy_id)
        if policy is None:
            raise NotFound(f"policy {policy_id} does not exist")
        return policy

    def find(self, tags: list[str]) -> list[Policy]:
        return self._policies.find(tags)

    def delete(self, policy_id: str) -> None:
        """404 for an unknown id; 400 while a key names the policy (its requests would lose
        their protection silently otherwise)."""
        try:
            deleted = self._policies.delete(policy_id)
        except PolicyInUse as exc:
            raise BadRequest(f"id: the policy is in use by {exc.key_count} key(s); "
                             "change their policyId first") from exc  # fmt: skip
        if not deleted:
            raise NotFound(f"policy {policy_id} does not exist")


def _rules(config: dict[str, Any] | None) -> dict[str, str] | None:
    return None if config is None else dict(config.get("rules", {}))


def _regex_rules(config: dict[str, Any] | None) -> tuple[RegexRule, ...] | None:
    if config is None:
        return None
    return tuple(RegexRule(r["definition"], r["action"]) for r in config.get("rules", []))


def policy_to_wire(policy: Policy) -> dict[str, Any]:
    """A policy as every policy endpoint answers it. Times appear as `createdAt`/`updatedAt`
    (BricksLLM's code) and as `created_at`/`updated_at` (BricksLLM's README), so clients written
    against either keep working."""
    regex = policy.regex_rules
    return {
        "id": policy.id,
        "name": policy.name,
        "createdAt": policy.created_at,
        "updatedAt": policy.updated_at,
        "created_at": policy.created_at,
        "updated_at": policy.updated_at,
        "tags": list(policy.tags),
        "config": None if policy.rules is None else {"rules": dict(policy.rules)},
        "regexConfig": None
        if regex is None
        else {"rules": [{"definition": r.definition, "action": r.action} for r in regex]},
        "redactResponses": policy.redact_responses,
        "onDetectorFailure": policy.on_detector_failure,
    }
