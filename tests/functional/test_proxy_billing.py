"""Today's OpenAI APIs billed exactly, through the official SDK and a real gunicorn gateway: the
Responses API (streamed, not streamed, background, retrieval), images by image or by token,
transcription and speech by token or by unit, and no spend that escapes a cost limit."""

from __future__ import annotations

import io

import openai
import pytest
import requests

from tests.fakes.audio import wav
from tests.functional.proxy_env import running_proxy

pytestmark = pytest.mark.slow
# The relay finishes a stream on `is_stream_end` before it observes that event; a Responses
# stream's terminal event carries its usage, so the relay must observe it first (README,
# "Responses API": the one-line hook). Until then the usage is counted locally.


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("billing")) as proxy:
        yield proxy


@pytest.fixture(autouse=True)
def fresh_upstream(env):
    env.upstream.reset()


def sdk(env, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=env.base_url, max_retries=0)


def usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}  # fmt: skip


# Responses API ------------------------------------------------------------------------------------


def test_a_response_is_billed_from_its_usage(env):
    key = env.create_key()
    env.upstream.configure(usage=usage(100, 40))
    reply = sdk(env, key).responses.create(model="gpt-4o", input="Say hello")
    assert reply.output_text == "Hello from the fake upstream." and reply.usage.input_tokens == 100
    [event] = env.events(env.last_key["keyId"], 1)
    assert (event.status, event.model, event.prompt_token_count, event.completion_token_count) == (
        200, "gpt-4o", 100, 40)  # fmt: skip
    assert event.cost_micros == 100 * 2.5 + 40 * 10  # gpt-4o: $2.50 and $10.00 per 1M


@pytest.mark.parametrize("how", ["create(stream=True)", "stream()"])
def test_a_streamed_response_ends_cleanly_at_response_completed(env, how):
    key = env.create_key()
    env.upstream.configure(chunk_count=4)
    client = sdk(env, key)
    if how == "stream()":
        with client.responses.stream(model="gpt-4o", input="Say hello") as stream:
            kinds = [event.type for event in stream]
            final = stream.get_final_response()
        assert final.status == "completed"
    else:
        kinds = [event.type for event in client.responses.create(model="gpt-4o", input="Hi", stream=True)]  # fmt: skip
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "error" not in kinds
    assert "stream_options" not in env.upstream.last.json  # the Responses API would refuse it
    [event] = env.events(env.last_key["keyId"], 1)
    assert (event.status, event.error) == (200, "")
    assert event.completion_token_count > 0 and event.cost_micros > 0  # billed, never $0


def test_a_streamed_response_carries_the_usage_of_response_completed(env):
    key = env.create_key()
    env.upstream.configure(usage=usage(1000, 500))
    with sdk(env, key).responses.stream(model="gpt-4o", input="Say hello") as stream:
        stream.until_done()
    [event] = env.events(env.last_key["keyId"], 1)
    assert (event.prompt_token_count, event.completion_token_count) == (1000, 500)
    assert event.token_count_source == "provider" and event.cost_micros == 7500


def test_a_streamed_response_cut_short_is_billed_for_what_was_relayed(env):
    key = env.create_key()
    env.upstream.configure(chunk_count=10, die_mid_stream_after=3)
    response = requests.post(f"{env.base_url}/responses", timeout=10, stream=True,
                             json={"model": "gpt-4o", "input": "Hi", "stream": True},
                             headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert "upstream stream ended early" in response.content.decode()
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.status == 502 and event.token_count_source == "local"
    assert event.completion_token_count > 0 and event.cost_micros > 0


@pytest.mark.parametrize("stream", [False, True])
def test_a_cost_limited_key_is_refused_after_spending_through_responses(env, stream):
    # 100 micro-dollars: the first call's reservation (its prompt and 5 output tokens) fits, what
    # it spends (20 input and 10 output tokens of gpt-4o: 150) does not leave room for another.
    key = env.create_key(costLimitInUsd=0.0001)
    env.upstream.configure(usage=usage(20, 10))
    body = {"model": "gpt-4o", "input": "Hi", "stream": stream, "max_output_tokens": 5}
    headers = {"Authorization": f"Bearer {key}"}
    first = requests.post(f"{env.base_url}/responses", json=body, headers=headers, timeout=10)
    assert first.status_code == 200 and first.content
    second = requests.post(f"{env.base_url}/responses", json=body, headers=headers, timeout=10)
    assert second.status_code == 429 and "total cost limit" in second.json()["error"]["message"]
    assert len(env.upstream.requests_to("/v1/responses")) == 1
    first_event, _ = env.events(env.last_key["keyId"], 2)
    assert first_event.cost_micros >= 50


def test_background_responses_and_retrievals_never_bill_twice(env):
    free = sdk(env, env.create_key())
    queued = free.responses.create(model="gpt-4o", input="Hi", background=True)
    assert queued.status == "queued"
    done = free.responses.retrieve("resp_abc")  # polled: the fake answers with its full usage
    assert done.status == "completed" and done.usage.input_tokens == 10
    creation, retrieval = env.events(env.last_key["keyId"], 2)
    assert retrieval.cost_micros == 0 and retrieval.prompt_token_count == 0
    assert creation.cost_micros == 0  # billed by OpenAI out of sight (refused under a limit)

    limited = sdk(env, env.create_key(costLimitInUsd=1))
    with pytest.raises(openai.BadRequestError) as refused:
        limited.responses.create(model="gpt-4o", input="Hi", background=True)
    assert "background" in refused.value.message and "stream" in refused.value.message
    assert limited.responses.retrieve("resp_abc").status == "completed"  # free by nature


# Images and audio ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "micros"),
    [
        ({"model": "dall-e-3", "size": "1024x1024", "quality": "standard"}, 40_000),
        ({"model": "dall-e-3", "size": "1024x1792", "quality": "hd", "n": 2}, 240_000),
        ({"model": "dall-e-2", "size": "512x512", "n": 3}, 54_000),
        # gpt-image-1 by its token usage: 40 text x $5 + 10 image x $10 + 4160 output x $40 per 1M
        ({"model": "gpt-image-1", "size": "1024x1024", "quality": "high"}, 166_700),
    ],
)
def test_images_are_priced_per_image_or_by_their_tokens(env, params, micros):
    key = env.create_key(costLimitInUsd=5)
    reply = sdk(env, key).images.generate(prompt="a red fox", **params)
    assert len(reply.data) == params.get("n", 1)
    [event] = env.events(env.last_key["keyId"], 1)
    assert (event.status, event.cost_micros) == (200, micros)


def test_transcribe_models_are_priced_from_their_token_usage(env):
    key = env.create_key(costLimitInUsd=1)
    audio = ("speech.wav", io.BytesIO(wav(2.0)), "audio/wav")
    reply = sdk(env, key).audio.transcriptions.create(model="gpt-4o-transcribe", file=audio)
    assert reply.text
    [event] = env.events(env.last_key["keyId"], 1)
    # 20 text x $2.50 + 100 audio x $6.00 + 30 output x $10.00 per 1M
    assert (event.status, event.cost_micros) == (200, 950)
    assert (event.prompt_token_count, event.completion_token_count) == (120, 30)


def test_gpt_4o_mini_tts_is_priced_by_characters_when_the_answer_reports_nothing(env):
    key = env.create_key(costLimitInUsd=1)
    text = "Hello there, this is a test of speech."
    sdk(env, key).audio.speech.create(model="gpt-4o-mini-tts", voice="alloy", input=text).read()
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.cost_micros == len(text) * 15  # $15 per 1M characters


# Under a cost limit: priced, free, or refused ----------------------------------------------------


def test_under_a_cost_limit_what_cannot_be_priced_is_refused_and_free_operations_pass(env):
    client = sdk(env, env.create_key(costLimitInUsd=1))
    with pytest.raises(openai.BadRequestError) as refused:
        client.batches.create(input_file_id="file-1", endpoint="/v1/chat/completions",
                              completion_window="24h")  # fmt: skip
    assert "/v1/batches" in refused.value.message and "cost limit" in refused.value.message
    with pytest.raises(openai.BadRequestError) as unknown:
        client.images.generate(model="my-image-model", prompt="x")
    assert "my-image-model" in unknown.value.message
    assert client.models.list() is not None  # free by nature
    assert client.responses.input_tokens.count(model="gpt-4o", input="Hi").input_tokens == 11
    assert [r.path for r in env.upstream.requests] == ["/v1/models", "/v1/responses/input_tokens"]
