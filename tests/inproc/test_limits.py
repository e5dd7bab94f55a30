"""Rate and spend limits on the memory counters, with the runtime's clock moved by the test: a
fixed-minute window rolls over when the clock says so, never after a sleep."""

from __future__ import annotations

from tests.inproc.harness import chat_completion

CHAT_PATH = "/api/providers/openai/v1/chat/completions"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
MILLION_PROMPT_TOKENS = {"prompt_tokens": 1_000_000, "completion_tokens": 0}  # $0.15 on gpt-4o-mini


def statuses(gateway, key, count, body=CHAT):
    return [gateway.post(CHAT_PATH, json=body, key=key).status_code for _ in range(count)]


def test_the_third_call_in_a_minute_is_429_until_the_next_minute(gateway):
    key = gateway.key(rateLimitOverTime=2, rateLimitUnit="m")
    gateway.clock.now = 1_800_000_000 + 30  # half a minute into a minute
    assert statuses(gateway, key, 2) == [200, 200]
    refused = gateway.post(CHAT_PATH, json=CHAT, key=key)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    assert refused.json["error"]["message"] == (
        "[BricksLLM] key rate limit exceeded: 2 requests per m"
    )
    gateway.clock.advance(29.9)
    assert statuses(gateway, key, 1) == [429], "still the same minute"
    gateway.clock.to_next_minute()
    assert statuses(gateway, key, 3) == [200, 200, 429]
    assert len(gateway.upstream.requests) == 4
    assert [e.status for e in gateway.events.rows] == [200, 200, 429, 429, 200, 200, 429]


def test_a_spend_limit_refuses_once_spent_and_raising_it_lets_the_key_work(gateway):
    gateway.upstream.script = lambda r: chat_completion(r.json, usage=MILLION_PROMPT_TOKENS)
    key = gateway.key(costLimitInUsd=0.2)
    assert statuses(gateway, key, 2) == [200, 200]  # $0.15 spent < $0.20: admitted, now $0.30
    refused = gateway.post(CHAT_PATH, json=CHAT, key=key)
    assert refused.status_code == 429
    assert refused.json["error"]["message"] == "[BricksLLM] key total cost limit of $0.2 reached"
    assert [e.cost_micros for e in gateway.events.rows] == [150_000, 150_000, 0]
    gateway.patch_key(gateway.last_key.key_id, costLimitInUsd=1.0)
    assert statuses(gateway, key, 1) == [200]
    assert len(gateway.upstream.requests) == 3


def test_a_call_in_flight_holds_its_estimate_until_it_settles(gateway):
    # max_tokens 100,000 on gpt-4o-mini holds $0.06: two of them do not fit under $0.10.
    key = gateway.key(costLimitInUsd=0.1)
    body = {**CHAT, "stream": True, "max_tokens": 100_000}
    first = gateway.post(CHAT_PATH, json=body, key=key, buffered=False)
    assert first.status_code == 200  # its stream is not read yet: the estimate is still held
    second = gateway.post(CHAT_PATH, json=body, key=key)
    assert second.status_code == 429
    assert second.json["error"]["message"] == "[BricksLLM] key total cost limit of $0.1 reached"
    assert first.get_data().endswith(b"data: [DONE]\n\n")
    first.close()
    # Settled at what it used (10 + 20 tokens: 14 micro-dollars): the next call fits again.
    assert [(e.status, e.cost_micros) for e in gateway.events.rows] == [(429, 0), (200, 14)]
    assert statuses(gateway, key, 1, body) == [200]


def test_a_model_without_a_price_is_refused_only_under_a_cost_limit(gateway):
    unknown = {**CHAT, "model": "my-finetune-without-a-price"}
    free = gateway.key()
    assert statuses(gateway, free, 1, unknown) == [200]
    limited = gateway.key(costLimitInUsd=1)
    refused = gateway.post(CHAT_PATH, json=unknown, key=limited)
    assert refused.status_code == 400
    assert refused.json["error"]["message"] == (
        "[BricksLLM] model my-finetune-without-a-price has no price and this key has a cost limit"
    )
    assert len(gateway.upstream.requests) == 1
    assert [(e.status, e.cost_micros) for e in gateway.events.rows] == [(200, 0), (400, 0)]


def test_a_users_rate_limit_applies_to_that_user_alone(gateway):
    key = gateway.key(rateLimitOverTime=10, rateLimitUnit="m")
    gateway.user("alice", rateLimitOverTime=1, rateLimitUnit="m")
    alice, bob = {**CHAT, "user": "alice"}, {**CHAT, "user": "bob"}
    assert statuses(gateway, key, 2, alice) == [200, 429]
    assert gateway.post(CHAT_PATH, json=alice, key=key).json["error"]["message"] == (
        "[BricksLLM] user alice rate limit exceeded: 1 requests per m"
    )
    assert statuses(gateway, key, 1, bob) == [200]  # a user the gateway does not know: the key's
    gateway.clock.to_next_minute()
    assert statuses(gateway, key, 1, alice) == [200]
    assert [e.user_id for e in gateway.events.rows] == ["alice"] * 3 + ["bob", "alice"]
