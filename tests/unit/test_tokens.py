"""Token counting: shipped vocabularies (offline, hash-checked) and OpenAI's counting rules."""

from __future__ import annotations

import dataclasses
import gzip
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import tiktoken
from tiktoken_ext import openai_public

from app.providers import tokens
from app.providers.tokens import (
    CL100K_BASE,
    IMAGE_PART_TOKENS,
    O200K_BASE,
    TokenCounter,
    VocabularyError,
    encoding_for_model,
)

# The OpenAI cookbook's example ("How to count tokens with tiktoken"): the API reports 129 prompt
# tokens for gpt-3.5-turbo and gpt-4, and 124 for gpt-4o and gpt-4o-mini.
COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities "
        "for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]


class NetworkGuard:
    """Replaces socket entry points; records and refuses every attempt."""

    def __init__(self) -> None:
        self.attempts: list[tuple[object, ...]] = []

    def refuse(self, *args: object, **kwargs: object) -> None:
        self.attempts.append(args)
        raise OSError("network access is blocked in this test")

    def install(self, mp: pytest.MonkeyPatch) -> None:
        mp.setattr(socket.socket, "connect", self.refuse)
        mp.setattr(socket.socket, "connect_ex", self.refuse)
        mp.setattr(socket, "create_connection", self.refuse)
        mp.setattr(socket, "getaddrinfo", self.refuse)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> NetworkGuard:
    """No network, and tiktoken's own cache is an empty directory."""
    guard = NetworkGuard()
    guard.install(monkeypatch)
    tiktoken_cache = tmp_path / "tiktoken-cache"
    tiktoken_cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tiktoken_cache))
    return guard


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TokenCounter, NetworkGuard]]:
    """One counter for the module, both encodings loaded offline from empty caches."""
    guard = NetworkGuard()
    with pytest.MonkeyPatch.context() as mp:
        guard.install(mp)
        mp.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path_factory.mktemp("tiktoken-cache")))
        counter = TokenCounter(tmp_path_factory.mktemp("vocab-cache"))
        counter.preload()
        yield counter, guard


@pytest.fixture
def counter(loaded: tuple[TokenCounter, NetworkGuard]) -> TokenCounter:
    return loaded[0]


# --- model -> encoding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4o",
        "gpt-4o-2024-08-06",
        "gpt-4o-mini",
        "chatgpt-4o-latest",
        "gpt-4.1-nano",
        "gpt-4.5-preview",
        "gpt-5",
        "gpt-5-mini",
        "o1",
        "o1-mini",
        "o3",
        "o3-mini-2025-01-31",
        "o4-mini",
        "ft:gpt-4o-mini-2024-07-18:my-org:custom:abc123",
        "some-unknown-model",
    ],
)
def test_o200k_models(model: str) -> None:
    assert encoding_for_model(model) == O200K_BASE


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4",
        "gpt-4-0613",
        "gpt-4-turbo",
        "gpt-4-turbo-2024-04-09",
        "gpt-4-32k",
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-instruct",
        "gpt-35-turbo",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
        "ft:gpt-3.5-turbo-0613:my-org::abc123",
        "ft:gpt-4-0613:my-org::abc123",
    ],
)
def test_cl100k_models(model: str) -> None:
    assert encoding_for_model(model) == CL100K_BASE


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-5",
        "o1",
        "o3",
        "o4-mini",
        "chatgpt-4o-latest",
        "gpt-4",
        "gpt-4-turbo",
        "gpt-3.5-turbo",
        "text-embedding-3-small",
        "text-embedding-ada-002",
        "ft:gpt-4o-mini-2024-07-18:org:name:id",
    ],
)
def test_encoding_agrees_with_tiktoken(model: str) -> None:
    assert encoding_for_model(model) == tiktoken.encoding_name_for_model(model)


# --- loading -------------------------------------------------------------------------------


def test_module_loads_made_no_network_attempt(loaded: tuple[TokenCounter, NetworkGuard]) -> None:
    _, guard = loaded
    assert guard.attempts == []


def test_guard_really_blocks_tiktoken_downloads(offline: NetworkGuard) -> None:
    # Control: an encoding we do not ship needs a download, which the guard refuses.
    with pytest.raises(requests.exceptions.ConnectionError):
        tiktoken.get_encoding("r50k_base")
    assert offline.attempts


def test_fresh_load_is_offline_and_caches_plain_copy(offline: NetworkGuard, tmp_path: Path) -> None:
    cache = tmp_path / "vocab"
    counter = TokenCounter(cache)
    counter.preload()
    assert offline.attempts == []
    plain = {path.name for path in cache.iterdir()}
    assert plain == {
        "o200k_base-446a9538cb6c348e.tiktoken",
        "cl100k_base-223921b76ee99bde.tiktoken",
    }
    shipped = gzip.decompress((tokens.VOCAB_DIR / "o200k_base.tiktoken.gz").read_bytes())
    assert (cache / "o200k_base-446a9538cb6c348e.tiktoken").read_bytes() == shipped


def test_shipped_files_match_tiktoken_hashes() -> None:
    for spec in tokens.VOCABS.values():
        data = gzip.decompress(spec.shipped_path.read_bytes())
        assert tiktoken.load.check_hash(data, spec.sha256), spec.name


def test_wrong_expected_hash_is_refused(
    offline: NetworkGuard, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = dataclasses.replace(tokens.VOCABS[CL100K_BASE], sha256="0" * 64)
    monkeypatch.setitem(tokens.VOCABS, CL100K_BASE, bad)
    with pytest.raises(VocabularyError, match="does not match sha256"):
        TokenCounter(tmp_path / "vocab").encoding(CL100K_BASE)


def test_tampered_shipped_file_is_refused(
    offline: NetworkGuard, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shipped = gzip.decompress((tokens.VOCAB_DIR / "cl100k_base.tiktoken.gz").read_bytes())
    tampered = tmp_path / "shipped"
    tampered.mkdir()
    (tampered / "cl100k_base.tiktoken.gz").write_bytes(gzip.compress(shipped + b"IQ== 1\n"))
    monkeypatch.setattr(tokens, "VOCAB_DIR", tampered)
    with pytest.raises(VocabularyError):
        TokenCounter(tmp_path / "vocab").encoding(CL100K_BASE)


def test_corrupt_cached_copy_is_rewritten(offline: NetworkGuard, tmp_path: Path) -> None:
    cache = tmp_path / "vocab"
    cache.mkdir()
    cached = cache / "cl100k_base-223921b76ee99bde.tiktoken"
    cached.write_bytes(b"garbage")
    encoding = TokenCounter(cache).encoding(CL100K_BASE)
    assert encoding.encode_ordinary("hello world") == [15339, 1917]
    assert tiktoken.load.check_hash(cached.read_bytes(), tokens.VOCABS[CL100K_BASE].sha256)


def test_unknown_encoding_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VocabularyError, match="p50k_base"):
        TokenCounter(tmp_path).encoding("p50k_base")


@pytest.mark.parametrize("name", [O200K_BASE, CL100K_BASE])
def test_same_pattern_and_special_tokens_as_tiktoken_ext(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", lambda *a, **k: {})
    reference = openai_public.ENCODING_CONSTRUCTORS[name]()
    spec = tokens.VOCABS[name]
    assert spec.pat_str == reference["pat_str"]
    assert dict(spec.special_tokens) == reference["special_tokens"]


def test_encoding_matches_tiktoken_reference_ids(counter: TokenCounter) -> None:
    o200k, cl100k = counter.encoding(O200K_BASE), counter.encoding(CL100K_BASE)
    assert o200k.encode_ordinary("hello world") == [24912, 2375]
    assert cl100k.encode_ordinary("hello world") == [15339, 1917]
    assert cl100k.encode_ordinary("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]
    assert o200k.n_vocab == 200019
    assert cl100k.n_vocab == 100277
    assert o200k.eot_token == 199999


def test_each_encoding_loads_once_under_concurrency(
    offline: NetworkGuard, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[str] = []
    real_load = tokens.load_encoding

    def counting_load(name: str, cache_dir: Path) -> tiktoken.Encoding:
        calls.append(name)
        return real_load(name, cache_dir)

    monkeypatch.setattr(tokens, "load_encoding", counting_load)
    counter = TokenCounter(tmp_path / "vocab")
    found: list[tiktoken.Encoding] = []
    threads = [
        threading.Thread(target=lambda: found.append(counter.encoding(CL100K_BASE)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [CL100K_BASE]
    assert len(found) == 8 and all(enc is found[0] for enc in found)


# --- counting ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4", "gpt-3.5-turbo", "o3-mini"])
def test_hello_world_is_two_tokens(counter: TokenCounter, model: str) -> None:
    assert counter.count_text(model, "hello world") == 2


def test_encodings_differ_where_they_should(counter: TokenCounter) -> None:
    assert counter.count_text("gpt-4o", "tiktoken is great!") == 6
    text = "नमस्ते दुनिया, यह एक परीक्षण है।"
    assert counter.count_text("gpt-4o", text) < counter.count_text("gpt-4", text)


def test_special_token_text_counts_as_ordinary_text(counter: TokenCounter) -> None:
    assert counter.count_text("gpt-4o", "<|endoftext|>") == 7
    assert counter.count_text("gpt-4", "<|endoftext|>") == 7


def test_empty_text_is_zero(counter: TokenCounter) -> None:
    assert counter.count_text("gpt-4o", "") == 0


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-3.5-turbo", 129), ("gpt-4", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)],
)
def test_cookbook_chat_example(counter: TokenCounter, model: str, expected: int) -> None:
    assert counter.count_chat_prompt(model, COOKBOOK_MESSAGES) == expected


def test_chat_message_overheads(counter: TokenCounter) -> None:
    # 3 priming + 3 per message + "user" (1) + "hello world" (2)
    assert counter.count_chat_prompt("gpt-4o", [{"role": "user", "content": "hello world"}]) == 9
    named = [{"role": "user", "name": "bob", "content": "hello world"}]
    assert counter.count_chat_prompt("gpt-4o", named) == 9 + 1 + 1  # "bob" + name marker
    assert counter.count_chat_prompt("gpt-4o", []) == 3


def test_chat_content_parts(counter: TokenCounter) -> None:
    parts = [
        {"type": "text", "text": "hello world"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        {"type": "text", "text": "hello world"},
    ]
    message = [{"role": "user", "content": parts}]
    assert counter.count_chat_prompt("gpt-4o", message) == 3 + 3 + 1 + 2 + IMAGE_PART_TOKENS + 2


def test_chat_tool_calls_and_tools(counter: TokenCounter) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "get", "arguments": "{}"}}
    assistant = {"role": "assistant", "content": None, "tool_calls": [call]}
    tool = {"role": "tool", "tool_call_id": "c1", "content": "hello world"}
    without_calls = counter.count_chat_prompt("gpt-4o", [{"role": "assistant"}, tool])
    with_calls = counter.count_chat_prompt("gpt-4o", [assistant, tool])
    assert with_calls - without_calls == 2  # "get" + "{}"
    definition = {"type": "function", "function": {"name": "get", "parameters": {}}}
    with_tools = counter.count_chat_prompt("gpt-4o", [assistant, tool], tools=[definition])
    assert with_tools > with_calls


def test_chat_ignores_odd_shapes(counter: TokenCounter) -> None:
    odd = ["not a message", {"role": "user", "content": 42}, {"role": "user", "content": [7]}]
    assert counter.count_chat_prompt("gpt-4o", odd) == 3 + 2 * (3 + 1)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("hello world", 2),
        (["hello world", "hello world"], 4),
        ([15339, 1917, 0], 3),
        ([[15339, 1917], [0]], 3),
        ([], 0),
        (None, 0),
    ],
)
def test_completion_prompt(counter: TokenCounter, prompt: object, expected: int) -> None:
    assert counter.count_completion_prompt("gpt-3.5-turbo-instruct", prompt) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("hello world", 2),
        (["hello world", "tiktoken is great!"], 8),
        ([1, 2, 3, 4], 4),
        ([[1, 2], [3, 4, 5]], 5),
        ({"text": "hello"}, 0),
    ],
)
def test_embedding_input(counter: TokenCounter, value: object, expected: int) -> None:
    assert counter.count_embedding_input("text-embedding-3-small", value) == expected
