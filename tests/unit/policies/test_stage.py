"""The stage's entry: blocks and detector failures become the proxy errors a client gets."""

from __future__ import annotations

import json

import pytest

from app.config import Settings
from app.domain.policies import Policy
from app.pii.detectors import build_detectors
from app.policies.stage import PolicyCheckFailed, RequestBlocked, check_request

DETECTORS = build_detectors(Settings())


def body(text):
    raw = json.dumps({"model": "m", "messages": [{"role": "user", "content": text}]}).encode()
    return raw, json.loads(raw)


def test_a_block_is_a_403_naming_the_policy_and_entities():
    pol = Policy(id="p9", created_at=1, updated_at=1, rules={"email": "block"})
    with pytest.raises(RequestBlocked) as raised:
        check_request(pol, DETECTORS, *body("mail jane@example.com"))
    error = raised.value
    assert error.status == 403 and error.body()["error"]["message"] == "[BricksLLM] request blocked"
    assert error.policy_id == "p9" and error.outcome.reasons("block") == ["email"]


def test_an_unchecked_cloud_entity_is_a_503_unless_the_policy_allows_it():
    pol = Policy(id="p9", created_at=1, updated_at=1, rules={"name": "block"})
    with pytest.raises(PolicyCheckFailed) as raised:
        check_request(pol, DETECTORS, *body("Jane Doe"))
    assert raised.value.status == 503 and "name" in raised.value.reason
    lenient = Policy(id="p9", created_at=1, updated_at=1, rules={"name": "block"},
                     on_detector_failure="allow")  # fmt: skip
    outcome = check_request(lenient, DETECTORS, *body("Jane Doe"))
    assert outcome.action == "allowed" and outcome.unchecked


def test_warned_and_redacted_are_answered_with_the_body_to_forward():
    pol = Policy(id="p9", created_at=1, updated_at=1,
                 rules={"email": "allow_but_redact", "phone": "allow_but_warn"})  # fmt: skip
    redacted = check_request(pol, DETECTORS, *body("mail jane@example.com"))
    assert redacted.action == "redacted" and b"***" in redacted.body
    raw, parsed = body("call 415-555-2671, mail jane@example.com")
    warned = check_request(pol, DETECTORS, raw, parsed)
    assert warned.action == "warned" and warned.body is raw
