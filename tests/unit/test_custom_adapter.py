"""The custom provider adapter: GJSON paths, the upstream URL and secret header, tokens from bodies
and streams, the end word, and pricing through a setting's costMap."""

from __future__ import annotations

import orjson
import pytest

from app.domain.custom_providers import RouteConfig
from app.domain.entities import CustomProvider, ProviderSetting
from app.providers import sse
from app.providers.base import StreamState
from app.providers.costs import Pricer
from app.providers.custom import (
    MAX_TOKENIZED_CHARS,
    CustomAdapter,
    ServedProvider,
    gjson_text,
    gjson_value,
    split_custom_path,
)
from app.providers.tokens import TokenCounter
from tests.fakes.custom_routes import chat_route, generate_route
from tests.fakes.upstream import split_sse_events

CHAT_ROUTE = chat_route("http://127.0.0.1:9000/v1/chat/completions")
GENERATE_ROUTE = generate_route("https://llm.example.com/generate?version=2")
REQUEST = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello to the world."},
    ],
    "stream": True,
}
SECRET = "custom-secret"


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> TokenCounter:
    return TokenCounter(tmp_path_factory.mktemp("vocab"))


def provider(auth: str = "", routes=(CHAT_ROUTE, GENERATE_ROUTE)) -> CustomProvider:
    return CustomProvider(id="p1", provider="bricks", created_at=1, updated_at=1,
                          route_configs=tuple(routes), authentication_param=auth)  # fmt: skip


def adapter(tokens, request=REQUEST, route=CHAT_ROUTE, auth: str = "") -> CustomAdapter:
    return CustomAdapter(provider(auth), RouteConfig.from_dict(route), tokens, request)


def setting(**extra) -> ProviderSetting:
    return ProviderSetting(id="s1", provider="bricks", created_at=1, updated_at=1,
                           setting={"apikey": SECRET}, **extra)  # fmt: skip


def tok(tokens: TokenCounter, *texts: str) -> int:
    return sum(tokens.count_text("gpt-4o-mini", t) for t in texts)


# --- GJSON paths ---------------------------------------------------------------------------------

RESPONSE = {
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello, world!"}},
        {"index": 1, "message": {"role": "assistant", "content": "Hi there."}},
    ],
    "usage": {"prompt_tokens": 99},
}


@pytest.mark.parametrize(
    ("document", "path", "expected"),
    [
        (RESPONSE, "choices.0.message.content", ["Hello, world!"]),
        (RESPONSE, "choices.1.message.content", ["Hi there."]),
        (RESPONSE, "choices.#.message.content", ["Hello, world!", "Hi there."]),
        (RESPONSE, "choices.#(index==1).message.content", ["Hi there."]),
        (REQUEST, "messages.#.content", ["You are terse.", "Say hello to the world."]),
        (REQUEST, "messages.#.role", ["system", "user"]),
        (REQUEST, "model", ["gpt-4o-mini"]),
        ({"a": [["x", "y"], "z", 5, None, {"t": "q"}, ""]}, "a", ["x", "y", "z"]),
        (RESPONSE, "usage.prompt_tokens", []),  # a number is not text
        (RESPONSE, "choices.#.delta.content", []),  # matches nothing
        (RESPONSE, "nope.deeper", []),
        (RESPONSE, "choices..message", []),  # not valid GJSON
        (RESPONSE, "", []),
        (None, "model", []),
    ],
)
def test_gjson_text_reads_the_strings_at_a_path(document, path, expected):
    assert gjson_text(document, path) == expected


def test_gjson_value_keeps_types():
    assert gjson_value({"stream": True}, "stream") is True
    assert gjson_value({"o": {"stream": "true"}}, "o.stream") == "true"
    assert gjson_value({"x": 1}, "missing") is None


# --- routing helpers -----------------------------------------------------------------------------


def test_split_custom_path():
    assert split_custom_path("/api/custom/providers/Bricks/chat/completions") == (
        "bricks",
        "/chat/completions",
    )
    assert split_custom_path("/api/custom/providers/bricks/") == ("bricks", "/")
    assert split_custom_path("/api/custom/providers/bricks") is None
    assert split_custom_path("/api/providers/openai/v1/chat/completions") is None


def test_a_served_provider_answers_exactly_its_routes_paths():
    routes = ServedProvider.of(provider()).routes
    found = routes.get("/generate")
    assert found is not None and found.target_url == GENERATE_ROUTE["target_url"]
    assert routes.get("/generate/more") is None
    assert routes.get("/chat") is None


# --- request side --------------------------------------------------------------------------------


def test_upstream_url_is_the_target_url_plus_the_clients_query(tokens):
    chat, generate = adapter(tokens), adapter(tokens, route=GENERATE_ROUTE)
    op = chat.operation
    assert chat.upstream_url(setting(), op, "") == CHAT_ROUTE["target_url"]
    assert chat.upstream_url(setting(), op, "a=1") == CHAT_ROUTE["target_url"] + "?a=1"
    assert (
        generate.upstream_url(setting(), op, "a=1")
        == "https://llm.example.com/generate?version=2&a=1"
    )


def test_secret_goes_in_the_authentication_param_header_or_as_bearer(tokens):
    assert adapter(tokens, auth="x-api-token").auth_headers(setting()) == {"x-api-token": SECRET}
    assert adapter(tokens).auth_headers(setting()) == {"Authorization": f"Bearer {SECRET}"}
    no_key = ProviderSetting(id="s", provider="bricks", created_at=1, updated_at=1, setting={})
    assert adapter(tokens).auth_headers(no_key) == {}


def test_the_model_comes_from_its_location(tokens):
    assert adapter(tokens).model == "gpt-4o-mini"
    assert adapter(tokens, request=orjson.dumps(REQUEST)).model == "gpt-4o-mini"  # raw body bytes
    assert adapter(tokens, request={"model": 5}).model == ""
    assert (
        adapter(tokens, request=None).model == ""
        and adapter(tokens, request=b"not json").model == ""
    )
    tgi = {"inputs": "Once upon a time", "parameters": {"model_id": "llama-3-8b", "stream": True}}
    generate = adapter(tokens, request=tgi, route=GENERATE_ROUTE)
    assert generate.model == "llama-3-8b"
    assert generate.request_model(generate.operation, {"model": "ignored"}) == "llama-3-8b"


def test_stream_body_is_sent_as_the_client_wrote_it(tokens):
    body = orjson.dumps(REQUEST)
    assert adapter(tokens).prepare_stream_body(body, REQUEST) == (body, False)


# --- usage ---------------------------------------------------------------------------------------


def test_usage_from_a_body_counts_prompt_and_completion_locally(tokens):
    usage = adapter(tokens).usage_from_body(adapter(tokens).operation, RESPONSE)
    assert usage is not None and usage.source == "local"
    assert usage.prompt_tokens == tok(tokens, "You are terse.", "Say hello to the world.")
    assert usage.completion_tokens == tok(tokens, "Hello, world!", "Hi there.")
    assert usage.completion_tokens == 4 + 3  # "Hello|,| world|!" and "Hi| there|." in o200k_base
    assert usage.prompt_tokens != 99  # the provider's own numbers are not read


def test_usage_from_a_body_without_the_completion_bills_the_prompt(tokens):
    usage = adapter(tokens).usage_from_body(adapter(tokens).operation, {"error": "x"})
    assert usage is not None and usage.completion_tokens == 0 and usage.prompt_tokens > 0


def feed(custom: CustomAdapter, state: StreamState, data: bytes) -> bool:
    """One data payload as the relay handles it for an adapter that reads every event."""
    assert custom.reads_every_event
    if custom.is_stream_end(data):
        return True
    parsed = sse.parse_json_data(data)
    if parsed is not None:
        custom.observe_stream_event(state, parsed)
    return False


def _event(text: str | None) -> bytes:
    delta = {} if text is None else {"content": text}
    return orjson.dumps({"choices": [{"index": 0, "delta": delta}]})


def test_a_stream_counts_each_events_text_and_ends_at_the_end_word(tokens):
    chat = adapter(tokens)
    state = StreamState()
    payloads = [_event(None), _event("Hello"), b"keep-alive", _event(","), _event(" world"),
                _event(""), _event("!")]  # fmt: skip
    assert [feed(chat, state, p) for p in payloads] == [False] * len(payloads)
    assert feed(chat, state, b"[DONE]") is True
    assert "".join(state.completion_parts) == "Hello, world!"
    assert state.model == "gpt-4o-mini"
    assert state.usage is not None and state.usage.source == "local"
    assert state.usage.completion_tokens == 4
    assert state.usage.prompt_tokens == tok(tokens, "You are terse.", "Say hello to the world.")


def test_a_stream_cut_short_has_billed_what_came_so_far(tokens):
    chat, state = adapter(tokens), StreamState()
    feed(chat, state, _event("Hello"))
    assert state.usage is not None and state.usage.completion_tokens == 1


def test_a_custom_end_word_and_event_shape(tokens):
    tgi = {"inputs": "Once upon a time", "parameters": {"model_id": "llama-3-8b", "stream": True}}
    generate, state = adapter(tokens, request=tgi, route=GENERATE_ROUTE), StreamState()
    assert feed(generate, state, b"[DONE]") is False  # not this provider's end word
    for text in ("Once", " there", " was"):
        assert feed(generate, state, orjson.dumps({"token": {"id": 1, "text": text}})) is False
    assert feed(generate, state, b"END") is True
    assert state.usage is not None and state.usage.completion_tokens == 3
    assert state.usage.prompt_tokens == tok(tokens, "Once upon a time")
    body_usage = generate.usage_from_body(generate.operation, {"generated_text": "Once there was"})
    assert body_usage is not None and body_usage.completion_tokens == 3


def test_a_route_without_streaming_never_ends_on_an_empty_payload(tokens):
    no_streaming = {k: v for k, v in CHAT_ROUTE.items() if not k.startswith("stream")}
    assert adapter(tokens, route=no_streaming).is_stream_end(b"") is False


def test_observe_stream_event_never_hides_an_event(tokens):
    state = StreamState()
    assert adapter(tokens).observe_stream_event(state, orjson.loads(_event("Hi"))) is False
    assert state.completion_parts == ["Hi"]


def test_huge_texts_are_estimated_not_tokenized(tokens):
    huge = "word " * (MAX_TOKENIZED_CHARS // 5 + 10)
    usage = adapter(
        tokens, request={"model": "m", "messages": [{"content": huge}]}
    ).usage_from_body(adapter(tokens).operation, {"choices": []})
    assert usage is not None and usage.prompt_tokens == len(huge) // 3


# --- pricing and the protocol --------------------------------------------------------------------


def test_a_custom_route_is_priced_by_the_settings_cost_map(tokens):
    chat = adapter(tokens, request={**REQUEST, "model": "my-llama"})
    usage = chat.usage_from_body(chat.operation, RESPONSE)
    assert usage is not None
    cost_map = {
        "promptCostPerModel": {"my-llama": 1.0},
        "completionCostPerModel": {"my-llama": 2.0},
    }
    pricer = Pricer(tokens)
    cost = pricer.cost(
        chat.operation, chat.model, usage, setting(cost_map=cost_map), None, chat.prices
    )
    # USD per 1K tokens -> micro-dollars: 1000 per prompt token, 2000 per completion token.
    assert cost == usage.prompt_tokens * 1000 + usage.completion_tokens * 2000 > 0
    assert (
        pricer.cost(chat.operation, chat.model, usage, setting(), None, chat.prices) == 0
    )  # no map


def test_a_raw_sse_transcript_read_as_the_relay_reads_it(tokens):
    """A recorded stream, CRLF and all, cut into events whose data (app/providers/sse.py) feeds the
    adapter as the relay feeds it."""
    transcript = (
        b": keep-alive comment\r\n\r\n"
        + b"".join(b"data: " + _event(t) + b"\r\n\r\n" for t in ("Hel", "lo", "!"))
        + b"data: [DONE]\r\n\r\n"
        + b"data: "
        + _event("after the end")
        + b"\r\n\r\n"
    )
    events, rest = split_sse_events(transcript)
    assert rest == b""
    chat, state, ended_at = adapter(tokens), StreamState(), None
    for index, raw in enumerate(events):
        data = sse.event_data(raw)
        if data is not None and feed(chat, state, data):
            ended_at = index
            break
    assert ended_at == 4
    assert "".join(state.completion_parts) == "Hello!"
    assert state.usage is not None and state.usage.completion_tokens == tok(
        tokens, "Hel", "lo", "!"
    )
