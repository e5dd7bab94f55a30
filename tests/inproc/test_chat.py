"""OpenAI chat through the in-process gateway: what the client gets, what the upstream received,
and the event row, for a whole body and a stream."""

from __future__ import annotations

import json

from tests.inproc.harness import USAGE, chat_completion, chat_stream

CHAT_PATH = "/api/providers/openai/v1/chat/completions"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def data_lines(body: bytes) -> list[bytes]:
    return [line[6:] for line in body.split(b"\n") if line.startswith(b"data: ")]


def test_a_chat_answer_reaches_the_client_and_its_usage_is_priced(gateway):
    key = gateway.key()
    response = gateway.post(CHAT_PATH, json=CHAT, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response.json["choices"][0]["message"]["content"] == "Hello from the fake upstream."
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # the views ran
    received = gateway.upstream.last
    assert (received.method, received.url) == ("POST", "http://upstream.test/v1/chat/completions")
    assert received.json == CHAT and received.headers["authorization"] == "Bearer sk-upstream"
    assert key not in json.dumps(dict(received.headers))
    [event] = gateway.events.rows
    assert (event.status, event.model, event.provider, event.key_id) == (
        200, "gpt-4o-mini", "openai", gateway.last_key.key_id,
    )  # fmt: skip
    assert (event.prompt_token_count, event.completion_token_count) == (10, 20)
    assert event.token_count_source == "provider"
    assert event.cost_micros == 14  # gpt-4o-mini: 10 x $0.15/M + 20 x $0.60/M, rounded up
    assert (event.path, event.method) == (CHAT_PATH, "POST")
    assert gateway.upstream.responses[0].released


def test_a_stream_hides_the_usage_chunk_the_gateway_asked_for(gateway):
    key = gateway.key()
    response = gateway.post(CHAT_PATH, json={**CHAT, "stream": True}, key=key)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert gateway.upstream.last.json["stream_options"] == {"include_usage": True}
    chunks = data_lines(response.get_data())
    assert chunks[-1] == b"[DONE]"
    assert all(b'"usage"' not in chunk for chunk in chunks), "the hidden usage chunk leaked"
    [event] = gateway.events.rows
    assert (event.status, event.prompt_token_count, event.completion_token_count) == (200, 10, 20)
    assert event.token_count_source == "provider"


def test_a_stream_that_asked_for_usage_gets_the_usage_chunk(gateway):
    key = gateway.key()
    body = json.dumps({**CHAT, "stream": True, "stream_options": {"include_usage": True}}).encode()
    response = gateway.post(CHAT_PATH, data=body, key=key, content_type="application/json")
    *_, usage_chunk, done = data_lines(response.get_data())
    assert json.loads(usage_chunk)["usage"] == USAGE and done == b"[DONE]"
    assert gateway.upstream.last.body == body, "nothing to add: the body went as sent"
    [event] = gateway.events.rows
    assert (event.prompt_token_count, event.completion_token_count) == (10, 20)


def test_a_stream_without_usage_is_counted_locally(gateway):
    key = gateway.key()
    events = chat_stream({"model": "gpt-4o-mini"}).batches  # no usage chunk: never asked for it
    gateway.upstream.script = lambda _received: chat_stream({"model": "gpt-4o-mini"})
    response = gateway.post(CHAT_PATH, json={**CHAT, "stream": True}, key=key)
    assert response.get_data() == b"".join(b"".join(batch) for batch in events)
    [event] = gateway.events.rows
    # o200k_base: tok|0| tok|1| tok|2| and a space; the prompt by OpenAI's rules: 3 per message,
    # "user" and "hi" one each, 3 to prime the reply.
    assert (event.completion_token_count, event.token_count_source) == (7, "local")
    assert event.prompt_token_count == 8


def test_headers_for_one_hop_or_for_the_gateway_stay_and_the_rest_pass_both_ways(gateway):
    key = gateway.key()
    gateway.upstream.answer(chat_completion(CHAT, headers={
        "x-request-id": "req-123", "Connection": "keep-alive, X-Hop", "X-Hop": "gateway only",
        "Proxy-Authenticate": "Basic",
    }))  # fmt: skip
    response = gateway.post(CHAT_PATH, json=CHAT, key=key, headers={
        "OpenAI-Organization": "org-1", "Connection": "keep-alive, X-Client-Hop",
        "X-Client-Hop": "gateway only", "Cookie": "session=1", "X-Request-Timeout": "30",
        "X-METADATA": '{"team": "a"}', "X-CUSTOM-EVENT-ID": "cid-1",
    })  # fmt: skip
    assert response.status_code == 200
    sent = gateway.upstream.last.headers
    assert (sent["openai-organization"], sent["authorization"]) == ("org-1", "Bearer sk-upstream")
    for name in ("x-client-hop", "cookie", "x-request-timeout", "x-metadata", "x-custom-event-id",
                 "x-api-key"):  # fmt: skip
        assert name not in sent, name
    assert gateway.upstream.last.timeout_s == 30.0
    assert response.headers["x-request-id"] == "req-123"
    assert "X-Hop" not in response.headers and "Proxy-Authenticate" not in response.headers
    [event] = gateway.events.rows
    assert (event.custom_id, event.metadata) == ("cid-1", {"team": "a"})
