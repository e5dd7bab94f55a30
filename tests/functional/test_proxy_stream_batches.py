"""Events an upstream sends in one write reach the client whole and in order, with the usage chunk
the gateway asked for still hidden and billed (the relay writes what arrived together at once)."""

from __future__ import annotations

import pytest
import requests

from tests.fakes.upstream import Reply, sse_data
from tests.functional.proxy_env import running_proxy

pytestmark = pytest.mark.slow
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}
BASE = {"id": "chatcmpl-b", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}


def _chunk(delta: dict, finish: str | None = None) -> str:
    return sse_data({**BASE, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                     "usage": None})  # fmt: skip


def _batched_stream(request) -> Reply:
    usage = sse_data({**BASE, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}})
    return Reply(headers={"Content-Type": "text/event-stream"}, chunks=[
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "one "}) + _chunk({"content": "two "}),  # two events, one write
        0.05,
        _chunk({"content": "three"}) + _chunk({}, "stop") + usage + "data: [DONE]\n\n",
    ])  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("batches")) as proxy:
        yield proxy


def test_events_sent_together_arrive_in_order_with_the_hidden_usage_billed(env):
    key = env.create_key()
    env.upstream.script("/chat/completions", _batched_stream)
    response = requests.post(f"{env.base_url}/chat/completions", json=CHAT,
                             headers={"Authorization": f"Bearer {key}"}, timeout=10)  # fmt: skip
    assert response.status_code == 200
    events = [e for e in response.text.split("\n\n") if e]
    assert [e.count('"content"') for e in events[1:4]] == [1, 1, 1]
    assert "one" in events[1] and "two" in events[2] and "three" in events[3]
    assert '"finish_reason":"stop"' in events[4]
    assert events[5:] == ["data: [DONE]"], "the usage chunk the client did not ask for is hidden"
    assert env.upstream.last.json["stream_options"] == {"include_usage": True}
    [event] = env.events(env.last_key["keyId"], 1)
    assert (event.status, event.prompt_token_count, event.completion_token_count) == (200, 9, 4)
    assert event.token_count_source == "provider"
