"""The policy engine on the request bodies of every provider: what is blocked, warned, redacted
or left alone, and that redaction rewrites only the matched strings."""

from __future__ import annotations

import json

import pytest

from app.config import Settings
from app.domain.policies import Policy, RegexRule
from app.pii.base import DetectorUnavailable
from app.pii.detectors import build_detectors
from app.policies.engine import PolicyUnavailable, inspect_request

DETECTORS = build_detectors(Settings())
EMAIL, CARD, SSN = "jane.doe@example.com", "4111 1111 1111 1111", "123-45-6789"


def policy(rules=None, regex=(), **extra):
    return Policy(id="p1", created_at=1, updated_at=1, rules=rules,
                  regex_rules=tuple(RegexRule(d, a) for d, a in regex), **extra)  # fmt: skip


def run(pol, body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return inspect_request(pol, DETECTORS, raw, json.loads(raw))


def chat(*contents, **extra):
    return {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": c} for c in contents],
        **extra,
    }


def test_block_by_entity_names_the_entity_not_the_data():
    outcome = run(
        policy({"email": "block", "ssn": "allow_but_redact"}), chat(f"mail {EMAIL} {SSN}")
    )
    assert outcome.action == "blocked" and outcome.reasons("block") == ["email"]
    assert EMAIL not in repr(outcome.hits)


def test_block_by_regex():
    outcome = run(policy(regex=[(r"project-[a-z]+", "block")]), chat("about project-falcon"))
    assert outcome.action == "blocked" and outcome.regexes == ["project-[a-z]+"]


def test_precedence_block_over_warn_over_redact():
    rules = {"email": "allow_but_redact", "credit_debit_number": "allow_but_warn", "ssn": "block"}
    assert run(policy(rules), chat(f"{EMAIL} {CARD} {SSN}")).action == "blocked"
    warned = run(policy(rules), chat(f"{EMAIL} {CARD}"))
    assert warned.action == "warned" and json.loads(warned.body) == chat(f"{EMAIL} {CARD}")
    assert run(policy(rules), chat(f"{EMAIL}")).action == "redacted"


def test_several_redact_rules_all_apply_and_unknown_fields_survive_byte_for_byte():
    raw = (b'{"model":"gpt-4o",  "x_vendor": {"keep": [1, 2.50, "\\u00e9"]},\n "messages": [{"role":"user",'
           b'"content":"card ' + CARD.encode() + b" mail " + EMAIL.encode() + b' code project-x"}, '
           b'{"role":"assistant","content":"nothing here \\u00e9"}]}')  # fmt: skip
    pol = policy({"email": "allow_but_redact", "credit_debit_number": "allow_but_redact"},
                 regex=[(r"project-\w", "allow_but_redact")])  # fmt: skip
    outcome = run(pol, raw)
    assert outcome.action == "redacted"
    assert json.loads(outcome.body)["messages"][0]["content"] == "card *** mail *** code ***"
    untouched = raw.split(b'"content":"card')[0], raw.split(b'{"role":"assistant"')[1]
    assert outcome.body.startswith(untouched[0]) and outcome.body.endswith(untouched[1])


def test_allow_only_and_no_match_forward_the_very_same_bytes():
    raw = b'{"messages": [{"role": "user", "content": "mail jane.doe@example.com"}] }'
    assert run(policy({"email": "allow"}), raw).body is raw
    outcome = run(policy({"ssn": "block"}), raw)
    assert outcome.action == "allowed" and outcome.body is raw
    assert run(None, raw).body is raw


def test_text_parts_are_redacted_and_other_parts_kept():
    body = chat([{"type": "text", "text": f"mail {EMAIL}"},
                 {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}])  # fmt: skip
    outcome = run(policy({"email": "allow_but_redact", "url": "allow_but_redact"}), body)
    parts = json.loads(outcome.body)["messages"][0]["content"]
    assert parts == [{"type": "text", "text": "mail ***"}, body["messages"][0]["content"][1]]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"model": "claude", "system": f"user is {EMAIL}", "messages": [{"role": "user", "content": "hi"}]},
         lambda b: b["system"]),
        ({"model": "claude", "system": [{"type": "text", "text": f"user is {EMAIL}"}], "messages": []},
         lambda b: b["system"][0]["text"]),
        ({"model": "e", "input": ["hi", f"user is {EMAIL}"]}, lambda b: b["input"][1]),
        ({"model": "e", "input": f"user is {EMAIL}"}, lambda b: b["input"]),
        ({"model": "c", "prompt": [f"user is {EMAIL}"]}, lambda b: b["prompt"][0]),
        ({"model": "r", "input": [{"role": "user", "content": [{"type": "input_text", "text": f"user is {EMAIL}"}]}]},
         lambda b: b["input"][0]["content"][0]["text"]),
        ({"model": "r", "instructions": f"user is {EMAIL}"}, lambda b: b["instructions"]),
        ({"role": "user", "content": f"user is {EMAIL}"}, lambda b: b["content"]),
        ({"assistant_id": "a", "thread": {"messages": [{"role": "user", "content": f"user is {EMAIL}"}]}},
         lambda b: b["thread"]["messages"][0]["content"]),
        ({"assistant_id": "a", "additional_messages": [{"role": "user", "content": f"user is {EMAIL}"}],
          "additional_instructions": "x"}, lambda b: b["additional_messages"][0]["content"]),
    ],
)  # fmt: skip
def test_every_inspected_text_is_redacted(body, path):
    outcome = run(policy({"email": "allow_but_redact"}), body)
    assert outcome.action == "redacted" and path(json.loads(outcome.body)) == "user is ***"


def test_fields_not_inspected_are_left_alone():
    body = chat("hi", user=EMAIL, metadata={"note": EMAIL}, tools=[{"description": EMAIL}])
    assert run(policy({"email": "block"}), body).action == "allowed"


class Failing:
    def detect(self, texts, entities):
        raise DetectorUnavailable("comprehend timed out")


def test_a_detector_failure_blocks_unless_the_policy_allows_it():
    body = json.dumps(chat(f"Jane Doe {SSN}")).encode()
    with pytest.raises(PolicyUnavailable):
        inspect_request(policy({"name": "block"}), Failing(), body, json.loads(body))
    let_through = policy({"name": "block"}, regex=[(r"\d{3}-\d{2}", "allow_but_redact")],
                         on_detector_failure="allow")  # fmt: skip
    outcome = inspect_request(let_through, Failing(), body, json.loads(body))
    assert outcome.action == "redacted" and outcome.unchecked == "comprehend timed out"
    assert json.loads(outcome.body)["messages"][0]["content"] == "Jane Doe ***-6789"


def test_a_cloud_entity_without_comprehend_is_a_detector_failure():
    with pytest.raises(PolicyUnavailable, match="address"):
        run(policy({"address": "block"}), chat("hi"))


def test_all_covers_every_entity_and_a_named_rule_wins():
    pol = policy({"all": "allow_but_redact", "email": "allow", "name": "allow", "address": "allow",
                  "age": "allow", "license_plate": "allow"})  # fmt: skip
    outcome = run(pol, chat(f"{EMAIL} {SSN}"))
    assert json.loads(outcome.body)["messages"][0]["content"] == f"{EMAIL} ***"


def test_non_ascii_texts_are_redacted_at_the_right_place():
    outcome = run(policy({"email": "allow_but_redact"}, regex=[("Grüße", "allow_but_redact")]),
                  chat(f"Grüße 👋 {EMAIL} ünd"))  # fmt: skip
    assert json.loads(outcome.body)["messages"][0]["content"] == "*** 👋 *** ünd"
