"""Response redaction: whole bodies of each provider, and streams whose match spans deltas."""

from __future__ import annotations

import json

from app.config import Settings
from app.domain.policies import Policy, RegexRule
from app.pii.detectors import build_detectors
from app.policies.responses import StreamRedactor, redact_response_body

DETECTORS = build_detectors(Settings())
EMAIL = "jane.doe@example.com"


def policy(rules=None, regex=(), redact_responses=True):
    return Policy(id="p", created_at=1, updated_at=1, rules=rules, redact_responses=redact_responses,
                  regex_rules=tuple(RegexRule(d, a) for d, a in regex))  # fmt: skip


def redact(pol, body):
    raw = json.dumps(body).encode()
    return redact_response_body(pol, DETECTORS, raw, json.loads(raw))


def test_chat_anthropic_and_responses_bodies_are_masked_by_block_and_redact_rules():
    pol = policy({"email": "block", "ssn": "allow_but_redact", "phone": "allow_but_warn"})
    text = f"write to {EMAIL}, ssn 123-45-6789, call 415-555-2671"
    expected = "write to ***, ssn ***, call 415-555-2671"
    chat = {"id": "c", "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 3}}  # fmt: skip
    assert json.loads(redact(pol, chat))["choices"][0]["message"]["content"] == expected
    anthropic = {"content": [{"type": "text", "text": text}], "usage": {"input_tokens": 1}}
    assert json.loads(redact(pol, anthropic))["content"][0]["text"] == expected
    responses = {
        "output": [{"type": "message", "content": [{"type": "output_text", "text": text}]}]
    }
    assert json.loads(redact(pol, responses))["output"][0]["content"][0]["text"] == expected
    completions = {"choices": [{"text": text}]}
    assert json.loads(redact(pol, completions))["choices"][0]["text"] == expected


def test_bodies_are_untouched_without_the_option_or_without_a_match():
    raw = json.dumps({"choices": [{"message": {"content": EMAIL}}]}).encode()
    assert redact_response_body(policy({"email": "block"}, redact_responses=False), DETECTORS, raw,
                                json.loads(raw)) is raw  # fmt: skip
    assert redact_response_body(policy({"ssn": "block"}), DETECTORS, raw, json.loads(raw)) is raw


def stream(pol, pieces, hold_back=32, emit_at_least=16):
    redactor = StreamRedactor(pol, DETECTORS, hold_back=hold_back, emit_at_least=emit_at_least)
    out = [redactor.feed(p) for p in pieces]
    return out, redactor.finish()


def test_a_match_split_across_two_deltas_is_caught():
    out, rest = stream(
        policy({"email": "allow_but_redact"}), ["Sure, mail jane.d", "oe@example.com now."]
    )
    assert "".join(out) + rest == "Sure, mail *** now."
    assert "jane" not in "".join(out)


def test_a_regex_match_split_across_deltas_is_caught():
    pieces = ["the code is proj", "ect-fal", "con and more text " * 4]
    out, rest = stream(policy(regex=[(r"project-[a-z]+", "block")]), pieces)
    assert "".join(out) + rest == "the code is *** and more text " + "con and more text " * 3


def test_the_stream_stays_incremental():
    words = [f"word{i} " for i in range(100)]
    out, rest = stream(policy({"email": "allow_but_redact"}), words, hold_back=32)
    assert "".join(out) + rest == "".join(words)
    assert sum(1 for piece in out if piece) > 25  # text leaves while the stream goes on
    assert len(rest) <= 32 + 16 + len(words[-1])


def test_feed_event_rewrites_the_delta_of_each_provider_shape():
    redactor = StreamRedactor(policy({"email": "allow_but_redact"}), DETECTORS, hold_back=0,
                              emit_at_least=0)  # fmt: skip
    chat = {"choices": [{"index": 0, "delta": {"content": f"to {EMAIL}"}}]}
    anthropic = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": EMAIL},
    }
    responses = {"type": "response.output_text.delta", "delta": EMAIL}
    for event in (chat, anthropic, responses):
        assert redactor.feed_event(event)
    assert chat["choices"][0]["delta"]["content"] == "to ***"
    assert anthropic["delta"]["text"] == "***" and responses["delta"] == "***"
    assert not redactor.feed_event({"choices": [{"delta": {"role": "assistant"}}]})
    assert not redactor.feed_event({"type": "message_stop"})


def replay(pol, events, hold_back=16):
    """What a client receives when the relay applies the redactor to each event."""
    redactor = StreamRedactor(pol, DETECTORS, hold_back=hold_back, emit_at_least=0)
    sent = []
    for event in events:
        redactor.feed_event(event)
        redactor.mask_full_texts(event)
        rest = redactor.flush_before(event)
        sent += [rest, event] if rest else [event]
    return sent


def test_an_openai_stream_gets_its_held_back_rest_before_the_finish_chunk():
    pieces = ["Write to jane.", "doe@example.com", " or call us, thanks for asking."]
    events = [
        {"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces
    ]
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    sent = replay(policy({"email": "allow_but_redact"}), events)
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in sent)
    assert text == "Write to *** or call us, thanks for asking."
    assert sent[-1]["choices"][0]["finish_reason"] == "stop"
    assert sent[-2]["choices"][0]["delta"]["content"]  # the rest, just before the end


def test_an_anthropic_stream_is_redacted_across_deltas():
    def delta(text):
        return {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": text},
        }

    events = [{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
              delta("My SSN is 123-4"), delta("5-6789, keep it safe."), {"type": "content_block_stop", "index": 0},
              {"type": "message_stop"}]  # fmt: skip
    sent = replay(policy({"ssn": "block"}), events)
    text = "".join(e["delta"]["text"] for e in sent if e["type"] == "content_block_delta")
    assert text == "My SSN is ***, keep it safe."


def test_responses_events_repeating_the_whole_text_are_masked():
    whole = f"mail {EMAIL} please"
    events = [{"type": "response.output_text.delta", "delta": whole},
              {"type": "response.output_text.done", "text": whole},
              {"type": "response.completed", "response": {"output": [{"content": [{"type": "output_text", "text": whole}]}]}}]  # fmt: skip
    sent = replay(policy({"email": "allow_but_redact"}), events, hold_back=0)
    assert EMAIL not in json.dumps(sent)
    assert sent[-1]["response"]["output"][0]["content"][0]["text"] == "mail *** please"


def test_with_the_defaults_a_long_answer_flows_and_waits_at_most_320_characters():
    redactor = StreamRedactor(policy({"email": "allow_but_redact"}), DETECTORS)
    words = [f"word{i} " for i in range(300)]
    out = []
    for word in words:
        out.append(redactor.feed(word))
        assert len("".join(words[: len(out)])) - len("".join(out)) <= 256 + 64 + len(word)
    assert "".join(out) + redactor.finish() == "".join(words)
