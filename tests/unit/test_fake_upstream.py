"""The fake upstream behaves like the providers' APIs, as their official SDKs see them."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import anthropic
import openai
import pytest
import requests
from openai import OpenAI

from tests.fakes.upstream import FakeUpstream, Reply, split_sse_events


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up


@pytest.fixture(autouse=True)
def _fresh(upstream: FakeUpstream) -> None:
    upstream.reset()


@pytest.fixture
def client(upstream: FakeUpstream) -> Iterator[OpenAI]:
    with OpenAI(base_url=upstream.url + "/v1", api_key="x", max_retries=0, timeout=10) as c:
        yield c


def test_chat_completion(upstream: FakeUpstream, client: OpenAI) -> None:
    upstream.configure(usage={"prompt_tokens": 7, "completion_tokens": 5})

    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )

    assert reply.model == "gpt-4o-mini"
    assert reply.choices[0].message.content == upstream.content
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (7, 5)
    assert reply.usage.total_tokens == 12
    assert upstream.last is not None
    assert upstream.last.path == "/v1/chat/completions"
    assert upstream.last.headers["authorization"] == "Bearer x"
    assert upstream.last.json["messages"] == [{"role": "user", "content": "hi"}]


def test_chat_stream_with_include_usage(upstream: FakeUpstream, client: OpenAI) -> None:
    upstream.configure(chunk_count=4, usage={"prompt_tokens": 3, "completion_tokens": 4})

    chunks = list(
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == upstream.stream_text() == "tok0 tok1 tok2 tok3 "
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 7
    assert all(c.usage is None for c in chunks[:-1])
    assert upstream.last is not None
    assert upstream.last.chunks_sent == 1 + 4 + 1 + 1 + 1  # role, content, finish, usage, [DONE]


def test_chat_stream_without_include_usage_has_no_usage_chunk(
    upstream: FakeUpstream, client: OpenAI
) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )

    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_stream_chunks_arrive_as_they_are_produced(upstream: FakeUpstream, client: OpenAI) -> None:
    upstream.configure(chunk_count=3, chunk_delay_s=0.15)
    arrivals = []

    for chunk in client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())

    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert len(arrivals) == 3
    assert all(gap > 0.1 for gap in gaps), gaps


def test_embeddings(upstream: FakeUpstream, client: OpenAI) -> None:
    upstream.configure(usage={"prompt_tokens": 9}, embedding_dimensions=4)

    reply = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])

    assert [len(d.embedding) for d in reply.data] == [4, 4]
    assert reply.data[0].embedding[0] == pytest.approx(0.001)
    assert reply.usage.prompt_tokens == 9
    assert reply.usage.total_tokens == 9


def test_raw_post_is_recorded_as_sent(upstream: FakeUpstream) -> None:
    body = b'{"model": "gpt-4o-mini", "x": [1, 2]}'

    response = requests.post(
        upstream.url + "/prefix/v1/assistants?limit=2&order=asc",
        data=body,
        headers={"Content-Type": "application/json", "X-Custom-Thing": "yes"},
        timeout=5,
    )

    assert response.json()["object"] == "echo"
    assert response.json()["path"] == "/prefix/v1/assistants"
    assert response.json()["query"] == "limit=2&order=asc"
    last = upstream.last
    assert last is not None
    assert last.method == "POST"
    assert last.body == body
    assert last.json == {"model": "gpt-4o-mini", "x": [1, 2]}
    assert last.headers["x-custom-thing"] == last.headers["X-CUSTOM-THING"] == "yes"
    assert last.query_params == {"limit": ["2"], "order": ["asc"]}


def test_prefixed_paths_and_chunked_request_bodies(upstream: FakeUpstream) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"model": "dep", '
        yield b'"messages": []}'

    response = requests.post(
        upstream.url + "/openai/deployments/dep/chat/completions?api-version=2024-06-01",
        data=body(),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )

    assert response.json()["object"] == "chat.completion"
    assert upstream.last is not None
    assert upstream.last.json == {"model": "dep", "messages": []}
    assert upstream.last.headers["transfer-encoding"] == "chunked"


def test_forced_failures_then_recovery(upstream: FakeUpstream, client: OpenAI) -> None:
    upstream.fail_next(429, count=2, headers={"retry-after": "1"})
    messages = [{"role": "user", "content": "hi"}]

    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
        assert caught.value.response.headers["retry-after"] == "1"
        assert caught.value.code == "rate_limit_exceeded"

    assert client.chat.completions.create(model="m", messages=messages).choices  # type: ignore[arg-type]


def test_script_overrides_a_path(upstream: FakeUpstream) -> None:
    upstream.script("/v1/models", lambda req: {"object": "list", "data": [], "seen": req.method})
    upstream.script("/teapot", lambda req: Reply(418, "short and stout", {"x-tea": "1"}))

    assert requests.get(upstream.url + "/v1/models", timeout=5).json()["seen"] == "GET"
    teapot = requests.post(upstream.url + "/teapot", timeout=5)
    assert (teapot.status_code, teapot.text, teapot.headers["x-tea"]) == (
        418,
        "short and stout",
        "1",
    )


def test_dying_mid_stream_sends_no_done(upstream: FakeUpstream) -> None:
    upstream.configure(chunk_count=5, die_mid_stream_after=2)
    lines: list[bytes] = []

    response = requests.post(
        upstream.url + "/v1/chat/completions",
        json={"model": "m", "stream": True},
        stream=True,
        timeout=5,
    )
    with response, pytest.raises(requests.exceptions.ChunkedEncodingError):
        lines.extend(line for line in response.iter_lines() if line)

    assert sum(b'"content":"tok' in line for line in lines) == 2
    assert b"data: [DONE]" not in lines
    assert upstream.last is not None
    assert upstream.last.died_mid_stream


def test_a_client_going_away_mid_stream_is_noticed(upstream: FakeUpstream) -> None:
    upstream.configure(chunk_count=50, chunk_delay_s=0.2)
    body = b'{"model": "m", "stream": true}'
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )

    with socket.create_connection(("127.0.0.1", upstream.port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while b"chat.completion.chunk" not in received:
            received += sock.recv(65536)
    went_away = time.monotonic()

    noticed = upstream.wait_closed_early(timeout=3)
    assert noticed is not None
    assert noticed - went_away < 0.5
    assert upstream.last is not None
    assert upstream.last.closed_early


def test_slow_upstream_times_the_client_out(upstream: FakeUpstream) -> None:
    upstream.configure(response_delay_s=2)

    impatient = OpenAI(base_url=upstream.url + "/v1", api_key="x", max_retries=0, timeout=0.3)
    with impatient, pytest.raises(openai.APITimeoutError):
        impatient.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

    assert upstream.wait_closed_early(timeout=3) is not None


def test_transcription_upload_is_recorded_intact(upstream: FakeUpstream, client: OpenAI) -> None:
    audio = bytes(range(256)) * 4 + b"\r\n--not-a-boundary\r\n"
    upstream.configure(audio_duration_s=12.5)

    reply = client.audio.transcriptions.create(
        model="whisper-1", file=("clip.wav", audio, "audio/wav"), response_format="verbose_json"
    )

    assert reply.duration == 12.5
    assert reply.text == upstream.transcription_text
    last = upstream.last
    assert last is not None
    assert last.files["file"].content == audio
    assert last.files["file"].filename == "clip.wav"
    assert last.form == {"model": "whisper-1", "response_format": "verbose_json"}
    assert audio in last.body


def test_speech_and_images(upstream: FakeUpstream, client: OpenAI) -> None:
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input="hello")
    images = client.images.generate(model="dall-e-3", prompt="a cat", n=2)

    assert speech.content == upstream.speech_bytes
    assert speech.response.headers["content-type"] == "audio/mpeg"
    assert images.data is not None
    assert len(images.data) == 2


def test_anthropic_messages_stream(upstream: FakeUpstream) -> None:
    upstream.configure(chunk_count=3, usage={"prompt_tokens": 11, "completion_tokens": 6})

    with anthropic.Anthropic(base_url=upstream.url, api_key="x", max_retries=0) as claude:
        with claude.messages.stream(
            model="claude-3-5-haiku-latest",
            max_tokens=10,
            messages=[{"role": "user", "content": "hi"}],
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        plain = claude.messages.create(
            model="claude-3-5-haiku-latest",
            max_tokens=10,
            messages=[{"role": "user", "content": "hi"}],
        )

    assert text == upstream.stream_text()
    assert (final.usage.input_tokens, final.usage.output_tokens) == (11, 6)
    assert plain.usage.output_tokens == 6
    assert upstream.requests[0].path == "/v1/messages"
    assert "anthropic-version" in upstream.requests[0].headers


def test_a_recorded_stream_splits_into_events_and_an_incomplete_rest():
    chunk = b'data: {"choices":[]}\n\n'
    assert split_sse_events(chunk + b'data: {"a"') == ([chunk], b'data: {"a"')
    assert split_sse_events(b"data: 1\r\n\r\ndata: 2\r\n\r\n") == (
        [b"data: 1\n\n", b"data: 2\n\n"],
        b"",
    )
