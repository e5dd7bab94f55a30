"""The Responses API through the OpenAI and Azure adapters, as the relay drives them: the golden
transcripts end at their terminal event (no `[DONE]`), their usage is read from it and priced from
the model's prices; a stream cut before it keeps the text for local counting; bodies, estimates
and the background rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.providers import sse
from app.providers.azure import AzureAdapter
from app.providers.base import Operation, OperationKind, ProviderAdapter, StreamState
from app.providers.costs import Pricer
from app.providers.openai import OpenAIAdapter
from app.providers.tokens import TokenCounter
from app.proxy import relay as relay_module
from app.proxy.endpoints import EndpointTable
from tests.fakes.upstream import split_sse_events

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "data" / "transcripts"
EXPECTED = json.loads((TRANSCRIPTS / "expected.json").read_text())
RESPONSES = sorted(name for name in EXPECTED if name.startswith("openai_responses_"))
OPERATION = Operation(OperationKind.RESPONSES, "/v1/responses")


@pytest.fixture(scope="module")
def pricer(tmp_path_factory) -> Pricer:
    return Pricer(TokenCounter(tmp_path_factory.mktemp("vocab")))


def relay(adapter: ProviderAdapter, events: list[bytes]) -> tuple[StreamState, int | None]:
    """What relay.py does with each event, with its own functions: (the state, the index of the
    event that ended the stream)."""
    state = StreamState()
    for index, raw in enumerate(events):
        data = sse.event_data(raw)
        relay_module._observe(adapter, state, data, hide_usage=False)
        if data is not None and adapter.is_stream_end(data):
            return state, index
    return state, None


def read_unparsed(adapter: ProviderAdapter, state: StreamState) -> None:
    """The relay's end of a stream without usage: every event it skipped is read."""
    relay_module._stream_outcome(adapter, state, 200, "")


@pytest.mark.parametrize("name", RESPONSES)
def test_a_responses_stream_ends_at_its_terminal_event_with_its_usage_and_cost(name, pricer):
    case = EXPECTED[name]
    events, rest = split_sse_events((TRANSCRIPTS / name).read_bytes())
    adapter = OpenAIAdapter()
    state, ended_at = relay(adapter, events)
    assert rest == b"" and ended_at == len(events) - 1  # the last event, no [DONE] needed
    assert state.usage is not None and state.model == case["model"]
    assert (state.usage.prompt_tokens, state.usage.completion_tokens) == (
        case["prompt_tokens"],
        case["completion_tokens"],
    )
    cost = pricer.cost(OPERATION, state.model, state.usage, None, case["body"], adapter.prices)
    assert cost == case["cost_micros"], case["why"]


def test_reasoning_and_cached_tokens_are_read_from_the_terminal_event():
    events, _ = split_sse_events((TRANSCRIPTS / "openai_responses_reasoning.sse").read_bytes())
    state, _ = relay(OpenAIAdapter(), events)
    assert state.usage is not None and state.usage.reasoning_tokens == 192
    events, _ = split_sse_events((TRANSCRIPTS / "openai_responses_tool_call.sse").read_bytes())
    state, _ = relay(OpenAIAdapter(), events)
    assert state.usage is not None and state.usage.cached_prompt_tokens == 1024


def test_a_stream_cut_before_its_terminal_event_keeps_the_text_for_local_counting():
    events, _ = split_sse_events((TRANSCRIPTS / "openai_responses_text.sse").read_bytes())
    adapter = OpenAIAdapter()
    state, ended_at = relay(adapter, events[:-1])
    assert ended_at is None and state.usage is None
    read_unparsed(adapter, state)
    assert "".join(state.completion_parts) == 'The capital of France is "Paris".'
    events, _ = split_sse_events((TRANSCRIPTS / "openai_responses_tool_call.sse").read_bytes())
    state, _ = relay(adapter, events[:-1])
    read_unparsed(adapter, state)
    assert "".join(state.completion_parts) == '{"city":"Paris"}'


def test_text_that_quotes_a_terminal_type_does_not_end_the_stream():
    quoted = {"type": "response.output_text.delta", "delta": '"type":"response.completed"'}
    payload = json.dumps(quoted, separators=(",", ":")).encode()
    assert not OpenAIAdapter().is_stream_end(payload)
    assert OpenAIAdapter().is_stream_end(b'{"type": "response.incomplete", "response": {}}')
    assert OpenAIAdapter().is_stream_end(b"[DONE]")  # chat streams still end as before


def test_a_whole_response_body_is_priced_from_its_usage(pricer):
    body = {"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-4o-2024-08-06",
            "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40},
                      "output_tokens": 50, "output_tokens_details": {"reasoning_tokens": 0}}}  # fmt: skip
    adapter = OpenAIAdapter()
    usage = adapter.usage_from_body(OPERATION, body)
    assert usage is not None and (usage.prompt_tokens, usage.cached_prompt_tokens) == (100, 40)
    # 60 x 2.50 + 40 x 1.25 + 50 x 10.00 = 700 micro-dollars
    assert pricer.cost(OPERATION, "gpt-4o-2024-08-06", usage, None, {}, adapter.prices) == 700


def test_the_reservation_counts_instructions_input_and_max_output_tokens(pricer):
    adapter = OpenAIAdapter()
    body = {"model": "gpt-4o", "instructions": "Be terse.", "max_output_tokens": 1000,
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "Hello there"}]}]}  # fmt: skip
    prompt = pricer.prompt_tokens(OPERATION, "gpt-4o", body, 200)
    assert 5 < prompt < 40
    estimate = pricer.estimate(OPERATION, "gpt-4o", body, 200, None, adapter.prices)
    assert estimate == -(-(prompt * 25 + 1000 * 100) // 10)  # 2.50 and 10.00 per 1M, rounded up
    as_string = pricer.prompt_tokens(OPERATION, "gpt-4o", {"input": "Hello there"}, 20)
    assert 0 < as_string < prompt


def test_background_responses_are_refused_under_a_cost_limit_unless_streamed(pricer):
    adapter, table = OpenAIAdapter(), OpenAIAdapter().prices
    background = {"model": "gpt-4o", "input": "hi", "background": True}
    reason = pricer.unpriced_reason(OPERATION, "gpt-4o", background, None, table)
    assert reason is not None and "background" in reason and "stream" in reason
    streamed = {**background, "stream": True}
    assert pricer.unpriced_reason(OPERATION, "gpt-4o", streamed, None, table) is None
    assert pricer.unpriced_reason(OPERATION, "gpt-4o", {"input": "hi"}, None, table) is None
    retrieval = EndpointTable().match("GET", "/api/providers/openai/v1/responses/resp_1")
    assert retrieval is not None and retrieval.operation.kind == "other"  # polled for free
    assert pricer.unpriced_reason(retrieval.operation, "", None, None, table) is None
    assert adapter.usage_from_body(OPERATION, {"status": "queued", "usage": None}) is None


def test_azure_answers_the_responses_api_and_names_the_model_from_the_body():
    table = EndpointTable()
    for path in ("/openai/responses", "/openai/v1/responses"):
        match = table.match("POST", f"/api/providers/azure{path}")
        assert match is not None and match.operation == Operation(OperationKind.RESPONSES, path)
        adapter = AzureAdapter()
        assert adapter.request_model(match.operation, {"model": "my-gpt4o"}) == "my-gpt4o"
        assert adapter.request_model(match.operation, {}) == ""
    events, _ = split_sse_events((TRANSCRIPTS / "openai_responses_text.sse").read_bytes())
    state, ended_at = relay(AzureAdapter(), events)
    assert ended_at == len(events) - 1 and state.usage is not None
