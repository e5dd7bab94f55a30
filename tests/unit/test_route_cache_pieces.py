"""The route cache's pure pieces: the cache key (what may share an answer) and the replay of a
cached chat answer as SSE, read back by the official openai SDK."""

from __future__ import annotations

import dataclasses
import json

import openai
import pytest

from app.domain.routes import CacheConfig, Route, RouteStep
from app.routing.cache.keys import cache_key
from app.routing.cache.sse import DONE, chat_answer_as_sse

try:  # the HTTP library the installed openai SDK is built on
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

ROUTE = Route("r1", "n", "/p", 0, 0, (RouteStep("openai", "gpt-4o"),), ("k1", "k2"),
              cache_config=CacheConfig(enabled=True))  # fmt: skip
REQUEST = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "hi"}],
    "temperature": 0.2,
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "response_format": {"type": "json_object"},
    "user": "u1",
}


def test_the_same_request_from_the_same_key_shares_a_key_whatever_the_field_order_or_stream():
    reordered = dict(reversed(list(REQUEST.items())))
    streamed = {**REQUEST, "stream": True, "stream_options": {"include_usage": True}}
    assert cache_key(ROUTE, "k1", REQUEST) == cache_key(ROUTE, "k1", reordered)
    assert cache_key(ROUTE, "k1", REQUEST) == cache_key(ROUTE, "k1", streamed)
    assert cache_key(ROUTE, "k1", REQUEST).startswith("r1:")


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.3},
        {"model": "gpt-4o-mini"},
        {"messages": [{"role": "user", "content": "hi!"}]},
        {"tools": []},
        {"response_format": {"type": "text"}},
        {"user": "u2"},
        {"top_p": 0.5},
        {"seed": 1},
    ],
)
def test_any_other_difference_is_another_key(change):
    assert cache_key(ROUTE, "k1", REQUEST) != cache_key(ROUTE, "k1", {**REQUEST, **change})


def test_keys_never_share_answers_unless_the_route_says_so():
    assert cache_key(ROUTE, "k1", REQUEST) != cache_key(ROUTE, "k2", REQUEST)
    other_route = dataclasses.replace(ROUTE, id="r2")
    assert cache_key(ROUTE, "k1", REQUEST) != cache_key(other_route, "k1", REQUEST)
    shared = dataclasses.replace(ROUTE, cache_config=CacheConfig(True, "1h", True))
    assert cache_key(shared, "k1", REQUEST) == cache_key(shared, "k2", REQUEST)


ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-2024-08-06",
    "system_fingerprint": "fp_1",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello there"},
         "logprobs": None, "finish_reason": "stop"},
        {"index": 1, "message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
         "logprobs": None, "finish_reason": "tool_calls"},
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
}  # fmt: skip


def _sdk_stream(events: list[bytes]):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              content=b"".join(events))  # fmt: skip

    client = openai.OpenAI(api_key="x", base_url="http://cache.invalid/v1",
                           http_client=httpx.Client(transport=httpx.MockTransport(handler)))  # fmt: skip
    return list(client.chat.completions.create(model="m", messages=[], stream=True))


def test_a_cached_answer_replays_as_a_stream_the_openai_sdk_reads():
    events = chat_answer_as_sse(json.dumps(ANSWER).encode(), include_usage=True)
    assert events[-1] == DONE and all(e.startswith(b"data: ") for e in events)
    chunks = _sdk_stream(events)
    assert {c.id for c in chunks} == {"chatcmpl-1"} and chunks[0].model == "gpt-4o-2024-08-06"
    text = "".join(c.choices[0].delta.content or "" for c in chunks
                   if c.choices and c.choices[0].index == 0)  # fmt: skip
    assert text == "Hello there"
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].function.name == "f" and calls[0].function.arguments == '{"a":1}'
    finishes = {c.choices[0].index: c.choices[0].finish_reason for c in chunks
                if c.choices and c.choices[0].finish_reason}  # fmt: skip
    assert finishes == {0: "stop", 1: "tool_calls"}
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 12


def test_usage_is_replayed_only_when_asked_and_a_non_chat_body_is_refused():
    events = chat_answer_as_sse(json.dumps(ANSWER).encode())
    assert all(b'"usage"' not in e for e in events)
    with pytest.raises(ValueError):
        chat_answer_as_sse(b'{"object":"list","data":[]}')
