"""SSE helpers and the OpenAI stream adapter as pure functions."""

from __future__ import annotations

from app.providers import sse
from app.providers.base import StreamState
from app.providers.openai import OpenAIAdapter

CHUNK = b'data: {"model":"gpt-4o-mini","choices":[{"delta":{"content":"Hi"}}],"usage":null}\n\n'
USAGE = b'data: {"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\n'


def test_event_data_and_done():
    assert sse.event_data(CHUNK).startswith(b'{"model"')
    assert sse.event_data(b"data: [DONE]\n\n") == sse.DONE
    assert sse.event_data(b": keep-alive\n\n") is None
    assert sse.parse_json_data(sse.DONE) is None


def test_only_usage_objects_need_parsing():
    assert not sse.may_carry_usage(sse.event_data(CHUNK))
    assert sse.may_carry_usage(sse.event_data(USAGE))


def test_openai_adapter_reads_content_and_hides_the_usage_only_chunk():
    adapter, state = OpenAIAdapter(), StreamState()
    assert adapter.observe_stream_event(state, sse.parse_json_data(sse.event_data(CHUNK))) is False
    assert adapter.observe_stream_event(state, sse.parse_json_data(sse.event_data(USAGE))) is True
    assert state.completion_parts == ["Hi"] and state.model == "gpt-4o-mini"
    assert (state.usage.prompt_tokens, state.usage.completion_tokens) == (3, 1)


def test_stream_body_gets_include_usage_without_touching_other_bytes():
    adapter = OpenAIAdapter()
    body = b'{"model": "m",  "stream": true, "x": 1.50}'
    patched, injected = adapter.prepare_stream_body(body, {"model": "m", "stream": True})
    assert (
        injected
        and patched
        == b'{"stream_options":{"include_usage":true},"model": "m",  "stream": true, "x": 1.50}'
    )
    same, injected = adapter.prepare_stream_body(body, {"stream_options": {"include_usage": True}})
    assert same == body and not injected
