"""An upstream that times out, cannot be reached, fails, or dies mid-stream: what the client gets
and the one event that says so. The same failures over real sockets are in
tests/functional/test_proxy_timeouts.py and test_proxy_openai.py."""

from __future__ import annotations

from tests.inproc.harness import FakeResponse, chat_stream, json_response, refused, timeout

CHAT_PATH = "/api/providers/openai/v1/chat/completions"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def test_an_upstream_timeout_is_504_with_its_event(gateway):
    key = gateway.key()
    gateway.upstream.answer(timeout())
    response = gateway.post(CHAT_PATH, json=CHAT, key=key, headers={"x-request-timeout": "2s"})
    assert response.status_code == 504
    assert response.json["error"]["message"] == "[BricksLLM] upstream did not answer in time"
    assert gateway.upstream.last.timeout_s == 2.0
    [event] = gateway.events.rows
    assert (event.status, event.error) == (504, "upstream did not answer in time")
    assert (event.key_id, event.cost_micros) == (gateway.last_key.key_id, 0)


def test_a_refused_connection_is_502_with_its_event(gateway):
    key = gateway.key()
    gateway.upstream.answer(refused())
    response = gateway.post(CHAT_PATH, json=CHAT, key=key)
    assert response.status_code == 502
    message = "upstream unreachable: ConnectionRefusedError"
    assert response.json["error"]["message"] == f"[BricksLLM] {message}"
    [event] = gateway.events.rows
    assert (event.status, event.error) == (502, message)


def test_a_timeout_releases_the_held_estimate(gateway):
    key = gateway.key(costLimitInUsd=0.1)
    body = {**CHAT, "max_tokens": 100_000}  # holds $0.06 while it runs
    gateway.upstream.answer(timeout(), timeout())
    assert [gateway.post(CHAT_PATH, json=body, key=key).status_code for _ in range(3)] == [
        504, 504, 200,
    ]  # fmt: skip


def test_a_body_that_cannot_be_read_is_502(gateway):
    key = gateway.key()
    broken = FakeResponse(200, {"Content-Type": "application/json"}, read_fails=True)
    gateway.upstream.answer(broken)
    response = gateway.post(CHAT_PATH, json=CHAT, key=key)
    assert response.status_code == 502
    assert broken.aborted, "a connection with a half-read body is not reused"
    [event] = gateway.events.rows
    assert (event.status, event.error) == (502, "upstream read failed: ConnectionResetError")


def test_an_upstream_error_passes_through_with_its_status_and_body(gateway):
    key = gateway.key()
    error = {"error": {"message": "upstream says slow down"}}
    gateway.upstream.answer(json_response(error, 429, headers={"Retry-After": "7"}))
    response = gateway.post(CHAT_PATH, json=CHAT, key=key)
    assert (response.status_code, response.json) == (429, error)
    assert response.headers["Retry-After"] == "7"
    [event] = gateway.events.rows
    assert (event.status, event.cost_micros, event.prompt_token_count) == (429, 0, 0)


def test_a_stream_cut_mid_way_ends_with_an_error_event_and_counts_what_was_relayed(gateway):
    key = gateway.key()
    # The role chunk and two content chunks arrive, then the connection dies.
    cut = chat_stream(CHAT, contents=("Paris ", "is ", "lovely"), fail_after=3)
    gateway.upstream.answer(cut)
    response = gateway.post(CHAT_PATH, json={**CHAT, "stream": True}, key=key)
    assert response.status_code == 200  # the head was sent before the upstream died
    body = response.get_data()
    relayed = b"".join(b"".join(batch) for batch in cut.batches[:3])
    assert body.startswith(relayed)
    assert b"[DONE]" not in body and b"lovely" not in body
    assert body[len(relayed) :].startswith(b"data: {") and b"upstream_error" in body
    assert cut.aborted and not cut.released
    [event] = gateway.events.rows
    assert (event.status, event.error) == (502, "upstream stream failed: ConnectionResetError")
    # What the client got, counted locally: "Paris is " is Paris| is| and a space in o200k_base.
    assert (event.completion_token_count, event.token_count_source) == (3, "local")
    assert event.cost_micros > 0


def test_a_stream_that_ends_without_its_end_event_is_an_error_too(gateway):
    key = gateway.key()
    ended = chat_stream(CHAT)
    ended.batches = ended.batches[:-1]  # no [DONE]
    gateway.upstream.answer(ended)
    body = gateway.post(CHAT_PATH, json={**CHAT, "stream": True}, key=key).get_data()
    assert b"[DONE]" not in body and b"upstream_error" in body
    [event] = gateway.events.rows
    assert (event.status, event.error) == (502, "upstream stream ended early")


def test_a_client_that_goes_away_mid_stream_is_499_and_billed_for_what_it_got(gateway):
    key = gateway.key()
    response = gateway.post(CHAT_PATH, json={**CHAT, "stream": True}, key=key, buffered=False)
    chunks = iter(response.response)
    next(chunks), next(chunks)  # the role chunk and "tok0 "
    response.close()
    stream = gateway.upstream.responses[0]
    assert stream.aborted and not stream.released
    [event] = gateway.events.rows
    assert (event.status, event.error) == (499, "client disconnected")
    # "tok0 " (tok|0| and a space in o200k_base): the one content chunk the client read.
    assert (event.completion_token_count, event.token_count_source) == (3, "local")
