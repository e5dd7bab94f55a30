"""Upstream timeouts end to end: `x-request-timeout` and `PROXY_TIMEOUT` against a slow fake upstream.

`x-request-timeout` (seconds or a duration) shortens `PROXY_TIMEOUT` for the wait until the
upstream's answer begins; once a stream flows, each wait for more of it is bounded by
`PROXY_TIMEOUT`. A timed-out call is a 504 with an event, its upstream connection is closed, and
the next call is not handed the late answer.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.functional.proxy_env import running_proxy

pytestmark = pytest.mark.slow
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("timeouts"), PROXY_TIMEOUT="1500ms") as proxy:
        yield proxy


@pytest.fixture(autouse=True)
def fresh_upstream(env):
    env.upstream.reset()


def post(env, key: str, body: dict = CHAT, **headers: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.post(f"{env.base_url}/chat/completions", json=body, timeout=10,
                             headers={"Authorization": f"Bearer {key}", **headers})  # fmt: skip
    return response, time.monotonic() - started


@pytest.mark.parametrize("header", ["0.3", "300ms"])
def test_x_request_timeout_answers_504_when_the_upstream_is_slower(env, header):
    key = env.create_key()
    env.upstream.configure(response_delay_s=1.2)
    response, took = post(env, key, **{"x-request-timeout": header})
    assert response.status_code == 504
    assert response.json()["error"]["message"] == "[BricksLLM] upstream did not answer in time"
    assert 0.25 < took < 1.0
    assert env.upstream.wait_closed_early() is not None, (
        "the upstream call is abandoned, not left open"
    )
    [event] = env.events(env.last_key["keyId"], 1)
    assert (event.status, event.cost_micros) == (504, 0)


def test_the_call_after_a_timeout_gets_its_own_answer(env):
    key = env.create_key()
    env.upstream.configure(response_delay_s=0.8, response_model="late-answer")
    assert post(env, key, **{"x-request-timeout": "0.2"})[0].status_code == 504
    env.upstream.configure(response_delay_s=0.0, response_model=None)
    for _ in range(4):  # a pooled connection that still carried the late answer would show here
        response, _ = post(env, key)
        assert response.status_code == 200 and response.json()["model"] == "gpt-4o-mini"
    time.sleep(1.0)  # the late answer would have arrived by now
    response, _ = post(env, key)
    assert response.status_code == 200 and response.json()["model"] == "gpt-4o-mini"


def test_proxy_timeout_bounds_a_call_without_the_header(env):
    key = env.create_key()
    env.upstream.configure(response_delay_s=3.0)
    response, took = post(env, key)
    assert response.status_code == 504
    assert 1.4 < took < 2.5


def test_a_longer_x_request_timeout_does_not_extend_proxy_timeout(env):
    key = env.create_key()
    env.upstream.configure(response_delay_s=3.0)
    response, took = post(env, key, **{"x-request-timeout": "60"})
    assert response.status_code == 504 and took < 2.5


def test_a_malformed_x_request_timeout_is_400_and_reaches_nothing(env):
    key = env.create_key()
    response, _ = post(env, key, **{"x-request-timeout": "soon"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "[BricksLLM] x-request-timeout is not a duration"
    assert env.upstream.requests == []


def test_a_stream_that_goes_silent_longer_than_proxy_timeout_ends_with_an_error_event(env):
    key = env.create_key()
    env.upstream.configure(chunk_count=3, chunk_delay_s=2.5)  # silent for 2.5 s before each chunk
    started = time.monotonic()
    with requests.post(f"{env.base_url}/chat/completions", json={**CHAT, "stream": True}, stream=True,
                       headers={"Authorization": f"Bearer {key}"}, timeout=10) as response:  # fmt: skip
        assert response.status_code == 200
        text = b"".join(response.iter_content(None)).decode()
    assert time.monotonic() - started < 2.4
    assert "[DONE]" not in text and text.endswith('"type":"upstream_error"}}\n\n')
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.status == 502 and event.error == "upstream stream failed: TimeoutError"


def test_a_stream_slower_than_x_request_timeout_between_events_still_completes(env):
    # The header bounds the wait for the answer to begin; a flowing stream is bounded by PROXY_TIMEOUT.
    key = env.create_key()
    env.upstream.configure(chunk_count=3, chunk_delay_s=0.5)
    with requests.post(f"{env.base_url}/chat/completions", json={**CHAT, "stream": True}, stream=True,
                       headers={"Authorization": f"Bearer {key}", "x-request-timeout": "0.3"},
                       timeout=10) as response:  # fmt: skip
        assert response.status_code == 200
        text = b"".join(response.iter_content(None)).decode()
    assert text.rstrip().endswith("data: [DONE]")
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.status == 200
