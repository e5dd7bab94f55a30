"""Golden SSE transcripts (tests/data/transcripts) replayed by the fake upstream through the gateway:
the client gets every byte as the provider sent it, and the event's tokens and cost equal the
transcript's usage priced by the table (or the setting's costMap), as `expected.json` states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tests.fakes.upstream import SSE_HEADERS, Reply, split_sse_events
from tests.functional.proxy_env import running_proxy

pytestmark = pytest.mark.slow
TRANSCRIPTS = Path(__file__).resolve().parents[1] / "data" / "transcripts"
EXPECTED = {name: case for name, case in json.loads((TRANSCRIPTS / "expected.json").read_text()).items()
            if not name.startswith("_")}  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("transcripts")) as proxy:
        yield proxy


def request_body(case: dict) -> dict:
    if "body" in case:
        return case["body"]  # e.g. a Responses API request
    body = {"model": case["model"], "stream": True, "max_tokens": 64,
            "messages": [{"role": "user", "content": "What is the capital of France?"}]}  # fmt: skip
    if case["provider"] != "anthropic":
        body["stream_options"] = {
            "include_usage": True
        }  # asked for: the usage chunk reaches the client
    return body


RESPONSES = sorted(name for name in EXPECTED if name.startswith("openai_responses_"))
CASES = sorted(EXPECTED)


@pytest.mark.parametrize("name", RESPONSES)
def test_a_responses_stream_ends_at_its_terminal_event_without_a_gateway_error(env, name):
    case, transcript = EXPECTED[name], (TRANSCRIPTS / name).read_bytes()
    events, _ = split_sse_events(transcript)
    received, event = relay(env, case, events)
    assert received == transcript  # nothing appended after response.completed/failed/incomplete
    assert (event.status, event.error, event.model) == (200, "", case["model"])


@pytest.mark.parametrize("name", CASES)
def test_transcript_relays_verbatim_and_records_its_usage(env, name):
    case, transcript = EXPECTED[name], (TRANSCRIPTS / name).read_bytes()
    events, rest = split_sse_events(transcript)
    assert rest == b"" and len(events) > 5
    received, event = relay(env, case, events)
    assert received == transcript
    assert_usage_recorded(event, case)


def test_a_transcript_with_crlf_line_ends_relays_verbatim_and_records_its_usage(env):
    # SSE lines may end in CRLF: each event still reaches the client as the provider sent it.
    case = EXPECTED["openai_chat.sse"]
    events, _ = split_sse_events((TRANSCRIPTS / "openai_chat.sse").read_bytes())
    crlf_events = [e.replace(b"\n", b"\r\n") for e in events]
    received, event = relay(env, case, crlf_events)
    assert received == b"".join(crlf_events)
    assert_usage_recorded(event, case)


def relay(env, case: dict, chunks: list[bytes]):
    """(the bytes the client received, the request's event) for a stream of `chunks`."""
    env.upstream.reset()
    env.upstream.script("", lambda _req: Reply(headers=SSE_HEADERS, chunks=[*chunks]))
    extra = {"costMap": case["costMap"]} if "costMap" in case else {}
    setting = env.create_setting(
        case["provider"], {"apikey": "upstream-secret", "resourceName": "r"}, **extra
    )
    key = env.create_key_on([setting])
    with requests.post(f"{env.gateway.proxy}{case['path']}", json=request_body(case),
                       headers={"x-api-key": key}, stream=True, timeout=10) as response:  # fmt: skip
        assert response.status_code == 200
        received = b"".join(response.iter_content(None))
    [event] = env.events(env.last_key["keyId"], 1)
    return received, event


def assert_usage_recorded(event, case: dict) -> None:
    assert (
        event.model,
        event.prompt_token_count,
        event.completion_token_count,
        event.token_count_source,
    ) == (case["model"], case["prompt_tokens"], case["completion_tokens"], "provider")
    assert event.cost_micros == case["cost_micros"], case["why"]
