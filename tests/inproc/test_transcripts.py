"""Golden SSE transcripts (tests/data/transcripts) through the in-process gateway: the client gets
every byte as the provider sent it, however its events were batched on arrival, and the event's
tokens and cost are the transcript's usage priced as `expected.json` states. The same cases run
through real gunicorn in tests/functional/test_provider_transcripts.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.custom_routes import generate_route
from tests.inproc.harness import UPSTREAM_URL, FakeResponse, split_events, sse_response

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "data" / "transcripts"
EXPECTED = {name: case for name, case in json.loads((TRANSCRIPTS / "expected.json").read_text()).items()
            if not name.startswith("_")}  # fmt: skip
BATCHES = {"one event per batch": 1, "three per batch": 3, "all at once": 10_000}


def request_body(case: dict) -> dict:
    body = {"model": case["model"], "stream": True, "max_tokens": 64,
            "messages": [{"role": "user", "content": "What is the capital of France?"}]}  # fmt: skip
    if case["provider"] != "anthropic":
        body["stream_options"] = {"include_usage": True}  # asked for: the usage chunk is relayed
    return body


def relay(gateway, case: dict, answer: FakeResponse):
    """(the bytes the client received, the request's one event)."""
    gateway.upstream.answer(answer)
    extra = {"costMap": case["costMap"]} if "costMap" in case else {}
    setting = gateway.setting(case["provider"], {"apikey": "upstream-secret", "resourceName": "r"},
                              **extra)  # fmt: skip
    key = gateway.key([setting])
    response = gateway.post(case["path"], json=request_body(case), key=key)
    assert response.status_code == 200
    [event] = gateway.events.rows
    return response.get_data(), event


def assert_usage_recorded(event, case: dict) -> None:
    assert (event.status, event.model, event.prompt_token_count, event.completion_token_count,
            event.token_count_source) == (
        200, case["model"], case["prompt_tokens"], case["completion_tokens"], "provider",
    )  # fmt: skip
    assert event.cost_micros == case["cost_micros"], case["why"]


def test_every_transcript_has_its_expectations():
    on_disk = {path.name for path in TRANSCRIPTS.glob("*.sse")}
    assert set(EXPECTED) | {"custom_generate.sse"} == on_disk


@pytest.mark.parametrize("batch", BATCHES.values(), ids=BATCHES.keys())
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_transcript_relays_verbatim_and_records_its_usage(gateway, name, batch):
    case, transcript = EXPECTED[name], (TRANSCRIPTS / name).read_bytes()
    events = split_events(transcript)
    assert len(events) > 5
    received, event = relay(gateway, case, sse_response(events, batch=batch))
    assert received == transcript
    assert_usage_recorded(event, case)
    assert gateway.upstream.responses[0].released, "a complete stream keeps its connection"


def test_a_transcript_with_crlf_line_ends_relays_verbatim_and_records_its_usage(gateway):
    case = EXPECTED["openai_chat.sse"]
    transcript = (TRANSCRIPTS / "openai_chat.sse").read_bytes().replace(b"\n", b"\r\n")
    received, event = relay(gateway, case, sse_response(split_events(transcript), batch=2))
    assert received == transcript
    assert_usage_recorded(event, case)


def test_a_custom_provider_streams_its_transcript_until_the_end_word(gateway):
    gateway.admin.custom_providers.create({
        "provider": "TGI", "authentication_param": "x-api-token",
        "route_configs": [generate_route(f"{UPSTREAM_URL}/tgi/generate?version=2")],
    })  # fmt: skip
    setting = gateway.setting("tgi", {"apikey": "tgi-secret"}, costMap={
        "promptCostPerModel": {"llama-3-8b": 1}, "completionCostPerModel": {"llama-3-8b": 2},
    })  # fmt: skip
    key = gateway.key([setting])
    transcript = (TRANSCRIPTS / "custom_generate.sse").read_bytes()
    gateway.upstream.answer(sse_response(split_events(transcript), batch=2))
    body = {"inputs": "Once upon a time", "parameters": {"model_id": "llama-3-8b", "stream": True}}
    response = gateway.post("/api/custom/providers/tgi/generate", json=body, key=key)
    assert (response.status_code, response.get_data()) == (200, transcript)
    received = gateway.upstream.last
    assert received.url == f"{UPSTREAM_URL}/tgi/generate?version=2"
    assert received.headers["x-api-token"] == "tgi-secret"
    [event] = gateway.events.rows
    # "Once upon a time" and "there| was| a| dragon|." in o200k_base, priced by the costMap.
    assert (event.status, event.prompt_token_count, event.completion_token_count) == (200, 4, 5)
    assert (event.token_count_source, event.cost_micros) == ("local", 4 * 1000 + 5 * 2000)
