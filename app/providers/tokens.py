"""Token counting for OpenAI-style requests, offline.

Owns the model -> encoding mapping, the loading of the two vocabularies shipped in
``app/providers/vocab`` (``cl100k_base`` and ``o200k_base``, gzipped), and OpenAI's documented
counting rules for chat messages, completion prompts and embedding inputs.

Nothing here ever touches the network. Loading a vocabulary:

1. gunzip the shipped file in memory and check its SHA-256 against tiktoken's published hash;
2. write the plain file once (atomically) into a local cache directory, unless an identical copy
   is already there;
3. read it back through tiktoken's own loader, ``tiktoken.load.load_tiktoken_bpe``, with the
   same expected hash (tiktoken checks it again and keeps its own copy in its cache directory);
4. build a ``tiktoken.Encoding`` with the pattern and special tokens of ``tiktoken_ext.openai_public``.

Counting is CPU work on the calling greenlet (measured: ~5 ms for a 32k-token prompt with
o200k_base, ~7 ms with cl100k_base). Loading both encodings takes ~0.3 s and ~115 MiB, so a worker
should call ``TokenCounter.preload()`` once after it starts, not on its first request.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import tiktoken
from tiktoken.load import check_hash, load_tiktoken_bpe
from tiktoken_ext.openai_public import (  # type: ignore[import-untyped, unused-ignore]
    ENDOFPROMPT,
    ENDOFTEXT,
    FIM_MIDDLE,
    FIM_PREFIX,
    FIM_SUFFIX,
)

O200K_BASE = "o200k_base"
CL100K_BASE = "cl100k_base"
DEFAULT_ENCODING = O200K_BASE
VOCAB_DIR = Path(__file__).with_name("vocab")

# OpenAI cookbook, "How to count tokens with tiktoken" (gpt-3.5-turbo-0613 and later models).
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3
# An image part is counted as a fixed 85 tokens: the base cost of one image for gpt-4o/gpt-4.1
# (the whole cost of a "detail": "low" image). High-detail images cost more upstream; the exact
# figure needs the image's size, which the gateway does not download. Audio and file parts count 0.
IMAGE_PART_TOKENS = 85
_IMAGE_PART_TYPES = frozenset({"image_url", "input_image", "image"})

_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")
_CL100K_PREFIXES = (
    "gpt-4",
    "gpt-3.5",
    "gpt-35",
    "text-embedding-",
    "davinci-002",
    "babbage-002",
)

# The split patterns of tiktoken_ext.openai_public (not exposed there as constants; a unit test
# checks these copies against its constructors).
_CL100K_PAT_STR = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PAT_STR = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


class VocabularyError(RuntimeError):
    """A shipped vocabulary is missing, unknown or does not match its expected hash."""


@dataclass(frozen=True)
class VocabSpec:
    """What is needed to rebuild one tiktoken encoding from a shipped file."""

    name: str
    sha256: str
    pat_str: str
    special_tokens: Mapping[str, int]

    @property
    def shipped_path(self) -> Path:
        return VOCAB_DIR / f"{self.name}.tiktoken.gz"


VOCABS: Mapping[str, VocabSpec] = {
    O200K_BASE: VocabSpec(
        O200K_BASE,
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PAT_STR,
        {ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
    ),
    CL100K_BASE: VocabSpec(
        CL100K_BASE,
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PAT_STR,
        {
            ENDOFTEXT: 100257,
            FIM_PREFIX: 100258,
            FIM_MIDDLE: 100259,
            FIM_SUFFIX: 100260,
            ENDOFPROMPT: 100276,
        },
    ),
}


def encoding_for_model(model: str) -> str:
    """Name of the encoding OpenAI uses for ``model``; ``o200k_base`` when unknown.

    A fine-tuned model ``ft:<base>:<org>:<name>:<id>`` uses the encoding of ``<base>``.
    """
    name = model.split(":")[1] if model.startswith("ft:") else model
    if name.startswith(_O200K_PREFIXES):
        return O200K_BASE
    if name.startswith(_CL100K_PREFIXES):
        return CL100K_BASE
    return DEFAULT_ENCODING


def default_cache_dir() -> Path:
    """Where the plain vocabulary files are written: ``<system temp dir>/bricksllm-vocab``."""
    return Path(tempfile.gettempdir()) / "bricksllm-vocab"


def load_encoding(name: str, cache_dir: Path) -> tiktoken.Encoding:
    """Build encoding ``name`` from the shipped vocabulary; raises ``VocabularyError``."""
    spec = VOCABS.get(name)
    if spec is None:
        raise VocabularyError(f"no shipped vocabulary for encoding {name!r}")
    path = _materialize(spec, cache_dir)
    ranks = load_tiktoken_bpe(str(path), expected_hash=spec.sha256)
    return tiktoken.Encoding(
        spec.name,
        pat_str=spec.pat_str,
        mergeable_ranks=ranks,
        special_tokens=dict(spec.special_tokens),
    )


def _materialize(spec: VocabSpec, cache_dir: Path) -> Path:
    """Plain copy of the shipped vocabulary in ``cache_dir``, hash-checked."""
    try:
        data = gzip.decompress(spec.shipped_path.read_bytes())
    except (OSError, EOFError) as exc:
        raise VocabularyError(f"cannot read {spec.shipped_path}: {exc}") from exc
    if not check_hash(data, spec.sha256):
        raise VocabularyError(f"{spec.shipped_path} does not match sha256 {spec.sha256}")
    path = cache_dir / f"{spec.name}-{spec.sha256[:16]}.tiktoken"
    if not _holds(path, data):
        _write_atomically(path, data)
    return path


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class TokenCounter:
    """Counts tokens with lazily loaded encodings; one instance per process, shared.

    Each encoding is loaded at most once per instance; loading is guarded by a lock, so
    concurrent threads or greenlets wait for the first load instead of repeating it.
    Values of unexpected types in request bodies count 0 tokens (the upstream validates).
    """

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self._cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._encodings: dict[str, tiktoken.Encoding] = {}
        self._lock = threading.Lock()

    def encoding(self, name: str) -> tiktoken.Encoding:
        """The encoding called ``name``, loaded on first use."""
        found = self._encodings.get(name)
        if found is not None:
            return found
        with self._lock:
            found = self._encodings.get(name)
            if found is None:
                found = load_encoding(name, self._cache_dir)
                self._encodings[name] = found
        return found

    def preload(self, names: Iterable[str] = (O200K_BASE, CL100K_BASE)) -> None:
        """Load the given encodings now (call once when a worker starts)."""
        for name in names:
            self.encoding(name)

    def for_model(self, model: str) -> tiktoken.Encoding:
        return self.encoding(encoding_for_model(model))

    def count_text(self, model: str, text: str) -> int:
        """Tokens in ``text``; special-token strings count as ordinary text."""
        return len(self.for_model(model).encode_ordinary(text))

    def count_text_in_slices(
        self, model: str, text: str, slice_chars: int, pause: Callable[[], object]
    ) -> int:
        """``count_text`` of a long text, slice by slice, calling ``pause`` between slices (under
        gevent: let other greenlets run; 20 MB in one call held a worker for 1.6 s). Slices end
        after a space where one is near, so the sum is within a token a slice of the exact count."""
        encoding = self.for_model(model)
        total, start = 0, 0
        while start < len(text):
            end = min(len(text), start + slice_chars)
            if end < len(text):
                space = text.rfind(" ", start + slice_chars // 2, end)
                end = space if space > start else end
            total += len(encoding.encode_ordinary(text[start:end]))
            start = end
            pause()
        return total

    def count_chat_prompt(
        self, model: str, messages: Iterable[object], tools: Iterable[object] | None = None
    ) -> int:
        """Prompt tokens of a chat request, per OpenAI's cookbook.

        Each message costs 3 tokens plus the tokens of each of its string fields (role, content,
        name, tool_call_id, ...), plus 1 when it has a ``name``; the reply is primed with 3 more.
        ``content`` may be a list of parts: text parts count their text, image parts a fixed
        ``IMAGE_PART_TOKENS``, other parts 0. Assistant ``tool_calls``/``function_call`` count their
        function names and arguments. ``tools`` (or legacy ``functions``) definitions, when given,
        count the tokens of their compact JSON: an estimate, OpenAI's internal rendering differs.
        """
        enc = self.for_model(model)
        total = REPLY_PRIMING_TOKENS
        for message in messages:
            if isinstance(message, Mapping):
                total += TOKENS_PER_MESSAGE + _message_tokens(enc, message)
        for tool in tools or ():
            total += _n(
                enc, json.dumps(tool, separators=(",", ":"), ensure_ascii=False, default=str)
            )
        return total

    def count_completion_prompt(self, model: str, prompt: object) -> int:
        """Tokens of a completions ``prompt``: a string, strings, a token array or token arrays."""
        return _input_tokens(self.for_model(model), prompt)

    def count_embedding_input(self, model: str, input: object) -> int:
        """Tokens of an embeddings ``input``: a string, strings, a token array or token arrays."""
        return _input_tokens(self.for_model(model), input)


def _n(enc: tiktoken.Encoding, text: str) -> int:
    return len(enc.encode_ordinary(text))


def _message_tokens(enc: tiktoken.Encoding, message: Mapping[object, object]) -> int:
    total = 0
    for key, value in message.items():
        total += _field_tokens(enc, key, value)
        if key == "name":
            total += TOKENS_PER_NAME
    return total


def _field_tokens(enc: tiktoken.Encoding, key: object, value: object) -> int:
    if isinstance(value, str):
        return _n(enc, value)
    if key == "content" and isinstance(value, list):
        return sum(_part_tokens(enc, part) for part in value)
    if key == "tool_calls" and isinstance(value, list):
        return sum(_call_tokens(enc, call) for call in value)
    if key == "function_call":
        return _function_tokens(enc, value)
    return 0


def _part_tokens(enc: tiktoken.Encoding, part: object) -> int:
    if isinstance(part, str):
        return _n(enc, part)
    if not isinstance(part, Mapping):
        return 0
    if part.get("type") in _IMAGE_PART_TYPES:
        return IMAGE_PART_TOKENS
    text = part.get("text", part.get("refusal"))
    return _n(enc, text) if isinstance(text, str) else 0


def _call_tokens(enc: tiktoken.Encoding, call: object) -> int:
    return _function_tokens(enc, call.get("function")) if isinstance(call, Mapping) else 0


def _function_tokens(enc: tiktoken.Encoding, function: object) -> int:
    if not isinstance(function, Mapping):
        return 0
    fields = (function.get("name"), function.get("arguments"))
    return sum(_n(enc, field) for field in fields if isinstance(field, str))


def _input_tokens(enc: tiktoken.Encoding, value: object) -> int:
    if isinstance(value, str):
        return _n(enc, value)
    if isinstance(value, list | tuple):
        return sum(_input_item_tokens(enc, item) for item in value)
    return 0


def _input_item_tokens(enc: tiktoken.Encoding, item: object) -> int:
    if isinstance(item, str):
        return _n(enc, item)
    if isinstance(item, int) and not isinstance(item, bool):
        return 1  # one token of a flat token array
    if isinstance(item, list | tuple):
        return len(item)  # a token array
    return 0
