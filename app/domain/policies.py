"""Policies: which personal data a key's requests may carry, and what happens when they do.

A policy maps entity names (BricksLLM's list, `ENTITIES`) to an action, and lists regex rules
with their own action. Actions rank block > allow_but_warn > allow_but_redact > allow: the
strongest action any match asks for decides the request's outcome.

Two fields go beyond BricksLLM: `redact_responses` (redact what comes back too) and
`on_detector_failure` (what a request gets when a detector cannot answer: "block", the default,
refuses it with 503; "allow" forwards it unchecked).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import re2

# BricksLLM's rule names (the spec's Rule enum, which is AWS Comprehend's PII types lower-cased).
ENTITIES: tuple[str, ...] = (
    "address", "age", "all", "aws_access_key", "aws_secret_key", "bank_account_number",
    "bank_routing", "ca_health_number", "ca_social_insurance_number", "credit_debit_cvv",
    "credit_debit_expiry", "credit_debit_number", "date_time", "driver_id", "email", "in_aadhaar",
    "in_nrega", "in_permanent_account_number", "in_voter_number",
    "international_bank_account_number", "ip_address", "license_plate", "mac_address", "name",
    "passport_number", "password", "phone", "pin", "ssn", "swift_code",
    "uk_national_health_service_number", "uk_national_insurance_number",
    "uk_unique_taxpayer_reference_number", "url", "us_individual_tax_identification_number",
    "username", "vehicle_identification_number",
)  # fmt: skip
ALL = "all"  # a rule for every entity

BLOCK = "block"
WARN = "allow_but_warn"
REDACT = "allow_but_redact"
ALLOW = "allow"
ACTIONS: tuple[str, ...] = (BLOCK, WARN, REDACT, ALLOW)
_RANK = {ALLOW: 0, REDACT: 1, WARN: 2, BLOCK: 3}

FAIL_MODES: tuple[str, ...] = ("block", "allow")

# Outcomes, as the event's `action` field names them.
BLOCKED, WARNED, REDACTED, ALLOWED = "blocked", "warned", "redacted", "allowed"
_OUTCOME = {BLOCK: BLOCKED, WARN: WARNED, REDACT: REDACTED, ALLOW: ALLOWED}

MAX_REGEX_LENGTH = 1000
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.max_mem = 8 << 20  # a pattern whose automaton needs more is refused at save time
_RE2_OPTIONS.log_errors = False


def strongest(actions: list[str] | tuple[str, ...] | set[str]) -> str:
    """The action that wins among `actions` (block > warn > redact > allow); allow when empty."""
    return max(actions, key=_RANK.__getitem__, default=ALLOW)


def outcome_of(action: str) -> str:
    """The event's `action` word for a policy action: block -> blocked, and so on."""
    return _OUTCOME[action]


def compile_regex(definition: str) -> Any:
    """The RE2 program for an admin-supplied pattern (linear time whatever the input).

    Raises ValueError with RE2's reason when RE2 cannot compile it (backreferences, lookaround,
    a malformed pattern, one too large)."""
    if len(definition) > MAX_REGEX_LENGTH:
        raise ValueError(f"longer than {MAX_REGEX_LENGTH} characters")
    try:
        return re2.compile(definition, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(f"RE2 cannot compile it: {reason}") from exc


@dataclass(frozen=True)
class RegexRule:
    definition: str
    action: str


@dataclass(frozen=True)
class Policy:
    """A stored policy. `rules` is None when the policy has no `config` (and so for regexes)."""

    id: str
    created_at: int
    updated_at: int
    name: str = ""
    tags: tuple[str, ...] = ()
    rules: dict[str, str] | None = None  # entity -> action
    regex_rules: tuple[RegexRule, ...] | None = None
    redact_responses: bool = False
    on_detector_failure: str = "block"

    @cached_property
    def entity_actions(self) -> dict[str, str]:
        """Every concrete entity this policy checks (not `allow`) and its action; `all` spreads
        over every entity, and a rule naming the entity itself wins over `all`."""
        rules = self.rules or {}
        spread = {e: rules[ALL] for e in ENTITIES if e != ALL} if ALL in rules else {}
        named = {e: a for e, a in rules.items() if e != ALL}
        return {e: a for e, a in {**spread, **named}.items() if a != ALLOW}

    def checks_anything(self) -> bool:
        """False when every rule is `allow`: such a policy changes nothing and costs nothing."""
        regex_acts = any(r.action != ALLOW for r in self.regex_rules or ())
        return regex_acts or bool(self.entity_actions)
