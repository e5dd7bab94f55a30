"""Transcriptions are priced by the audio's duration: the one verbose_json reports, else the one
read from the uploaded file (json, text, srt and vtt answers do not carry it)."""

from __future__ import annotations

import openai
import pytest

from tests.fakes.audio import MP3_FRAME, wav
from tests.functional.proxy_env import running_proxy

pytestmark = pytest.mark.slow
WHISPER_MICROS_PER_S = 100  # whisper-1: $0.006 a minute, billed to the nearest second


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("transcriptions")) as proxy:
        yield proxy


def _transcribe(env, key, file, response_format):
    client = openai.OpenAI(api_key=key, base_url=env.base_url, max_retries=0)
    try:
        return client.audio.transcriptions.create(
            model="whisper-1", file=file, response_format=response_format
        )
    finally:
        client.close()


@pytest.mark.parametrize("response_format", ["json", "text", "srt", "vtt"])
def test_without_a_reported_duration_the_upload_is_measured(env, response_format):
    key = env.create_key()
    _transcribe(env, key, ("clip.wav", wav(3.0), "audio/wav"), response_format)
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.status == 200 and event.model == "whisper-1"
    assert event.cost_micros == 3 * WHISPER_MICROS_PER_S
    assert event.token_count_source == "local"
    assert env.upstream.last.files["file"].content == wav(3.0)  # forwarded untouched


def test_an_mp3_upload_is_measured_too(env):
    key = env.create_key()
    _transcribe(env, key, ("talk.mp3", MP3_FRAME * 500, "audio/mpeg"), "text")  # 13.06 s
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.cost_micros == 13 * WHISPER_MICROS_PER_S


def test_verbose_json_duration_wins_over_the_file(env):
    env.upstream.configure(audio_duration_s=7.4)
    try:
        key = env.create_key()
        _transcribe(env, key, ("clip.wav", wav(3.0), "audio/wav"), "verbose_json")
    finally:
        env.upstream.reset()
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.cost_micros == 7 * WHISPER_MICROS_PER_S
    assert event.token_count_source == "provider"


def test_audio_the_gateway_cannot_read_is_priced_zero_and_still_answered(env):
    key = env.create_key()
    reply = _transcribe(
        env, key, ("clip.webm", b"\x1a\x45\xdf\xa3" + b"\x00" * 200, "audio/webm"), "json"
    )
    assert reply.text == env.upstream.transcription_text
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.status == 200 and event.cost_micros == 0


def test_a_cost_limit_refuses_audio_that_would_pass_it_before_the_upstream(env):
    key = env.create_key(costLimitInUsd=0.005)  # 50 s of whisper-1
    env.upstream.reset()
    with pytest.raises(openai.RateLimitError) as refused:
        _transcribe(env, key, ("long.wav", wav(60.0, rate=8_000), "audio/wav"), "text")
    assert "cost limit" in refused.value.message
    assert env.upstream.requests == []
    _transcribe(env, key, ("short.wav", wav(30.0, rate=8_000), "audio/wav"), "text")
    assert len(env.upstream.requests) == 1
    events = env.events(env.last_key["keyId"], 2)
    assert sorted((e.status, e.cost_micros) for e in events) == [
        (200, 30 * WHISPER_MICROS_PER_S),
        (429, 0),
    ]


def test_the_duration_in_openais_usage_object_is_the_price(env):
    # OpenAI's whisper-1 answers json with `usage: {"type": "duration", "seconds": n}`.
    env.upstream.script(
        "/audio/transcriptions",
        lambda _req: {"text": "hi", "usage": {"type": "duration", "seconds": 9}},
    )
    try:
        key = env.create_key()
        _transcribe(env, key, ("clip.wav", wav(3.0), "audio/wav"), "json")
    finally:
        env.upstream.reset()
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.cost_micros == 9 * WHISPER_MICROS_PER_S
    assert event.token_count_source == "provider"


def test_token_usage_of_newer_transcription_models_is_kept(env):
    usage = {"type": "tokens", "input_tokens": 40, "output_tokens": 12, "total_tokens": 52}
    env.upstream.script("/audio/transcriptions", lambda _req: {"text": "hi", "usage": usage})
    try:
        key = env.create_key()
        client = openai.OpenAI(api_key=key, base_url=env.base_url, max_retries=0)
        client.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=("clip.wav", wav(3.0), "audio/wav")
        )
        client.close()
    finally:
        env.upstream.reset()
    [event] = env.events(env.last_key["keyId"], 1)
    assert (event.prompt_token_count, event.completion_token_count) == (40, 12)
