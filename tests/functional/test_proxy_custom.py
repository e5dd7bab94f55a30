"""A custom provider defined through the admin API answers, streams and records tokens through a
real gunicorn gateway; the fake upstream is the provider."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.fakes.custom_routes import generate_route
from tests.fakes.upstream import SSE_HEADERS, Reply, split_sse_events
from tests.functional.proxy_env import running_proxy, wait_for_config

pytestmark = pytest.mark.slow
PROMPT = "Once upon a time"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("custom")) as proxy:
        response = requests.post(f"{proxy.gateway.admin}/api/custom/providers", timeout=5, json={
            "provider": "TGI", "authentication_param": "x-api-token",
            "route_configs": [generate_route(f"{proxy.upstream.url}/tgi/generate?version=2")]})  # fmt: skip
        assert response.status_code == 200, response.text
        wait_for_config()
        yield proxy


@pytest.fixture(autouse=True)
def fresh_upstream(env):
    env.upstream.reset()


def key_for(env, **setting_extra) -> str:
    return env.create_key_on([env.create_setting("tgi", {"apikey": "tgi-secret"}, **setting_extra)])


def generate(env, key: str, stream: bool, **headers: str) -> requests.Response:
    body = {"inputs": PROMPT, "parameters": {"model_id": "llama-3-8b", "stream": stream}}
    return requests.post(f"{env.gateway.proxy}/api/custom/providers/tgi/generate?trace=1", json=body,
                         headers={"x-api-key": key, **headers}, stream=stream, timeout=10)  # fmt: skip


def test_a_custom_provider_answers_and_records_tokens_priced_by_the_cost_map(env):
    key = key_for(
        env,
        costMap={
            "promptCostPerModel": {"llama-3-8b": 1},
            "completionCostPerModel": {"llama-3-8b": 2},
        },
    )
    env.upstream.script("/tgi/generate", lambda _req: {"generated_text": "there was a dragon."})
    response = generate(env, key, stream=False, **{"X-Api-Token": "client-forged"})
    assert response.status_code == 200 and response.json() == {
        "generated_text": "there was a dragon."
    }
    received = env.upstream.last
    assert received.path == "/tgi/generate" and received.query_params == {
        "version": ["2"],
        "trace": ["1"],
    }
    assert received.headers["x-api-token"] == "tgi-secret", (
        "the client's header of that name is dropped"
    )
    assert "authorization" not in received.headers and key not in received.body.decode()
    [event] = env.events(env.last_key["keyId"], 1)
    assert (event.provider, event.model, event.token_count_source) == ("tgi", "llama-3-8b", "local")
    assert (event.prompt_token_count, event.completion_token_count) == (4, 5)  # o200k_base counts
    assert event.cost_micros == 4 * 1000 + 5 * 2000  # USD per 1K tokens


def test_a_custom_provider_streams_its_golden_transcript_until_the_end_word(env):
    key = key_for(
        env,
        costMap={
            "promptCostPerModel": {"llama-3-8b": 1},
            "completionCostPerModel": {"llama-3-8b": 2},
        },
    )
    transcript = (
        Path(__file__).resolve().parents[1] / "data" / "transcripts" / "custom_generate.sse"
    ).read_bytes()
    events, _ = split_sse_events(transcript)
    env.upstream.script(
        "/tgi/generate", lambda _req: Reply(headers=dict(SSE_HEADERS), chunks=events)
    )
    with generate(env, key, stream=True) as response:
        assert response.status_code == 200
        received = b"".join(response.iter_content(None))
    assert received == transcript
    [event] = env.events(env.last_key["keyId"], 1)
    # "Once upon a time" and "there| was| a| dragon|." in o200k_base, priced by the costMap.
    assert (event.status, event.prompt_token_count, event.completion_token_count) == (200, 4, 5)
    assert event.cost_micros == 4 * 1000 + 5 * 2000


def test_unknown_custom_provider_or_route_is_404_and_reaches_nothing(env):
    key = key_for(env)
    for path in ("/api/custom/providers/nope/generate", "/api/custom/providers/tgi/other"):
        response = requests.post(
            f"{env.gateway.proxy}{path}", json={}, headers={"x-api-key": key}, timeout=10
        )
        assert (
            response.status_code == 404
            and response.json()["error"]["message"] == "[BricksLLM] route not supported"
        )
    assert env.upstream.requests == []
