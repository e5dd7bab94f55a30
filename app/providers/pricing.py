"""Model prices and the cost of a request, in integer micro-dollars (1 USD = 1_000_000).

Owns the built-in price tables (JSON data files in ``app/providers/data``, one per provider, read
by ``PriceTable.from_file``), model-name resolution (exact name; a dated snapshot priced as its
base; ``ft:<base>:<org>:<name>:<id>`` priced as the table's ``ft:<base>`` entry), a provider
setting's ``costMap`` overrides, and the arithmetic.

Contract: arithmetic is exact (``Fraction`` built from the decimal text of every price), and a
request's cost is rounded up to a whole micro-dollar once, at the end of its computation. A cost
function returns ``None`` when no price is known for the model. Token counts must be >= 0.
Every function prices against the OpenAI table unless given another ``table=``.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from app.domain.money import MICROS_PER_USD

DATA_DIR = Path(__file__).with_name("data")
DEFAULT_IMAGE_SIZE = "1024x1024"
DEFAULT_IMAGE_QUALITY = "standard"

_PER_MILLION = 1_000_000
_PER_THOUSAND = 1_000
_SECONDS_PER_MINUTE = 60
# A dated snapshot suffix: -YYYY-MM-DD, -MMDD (OpenAI), -YYYYMMDD (Anthropic style).
_SNAPSHOT_SUFFIX = re.compile(
    r"-(?:\d{4}-\d{2}-\d{2}|20\d{6}|(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))$"
)

Amount = int | float | str | Decimal | Fraction
ImagePrices = Mapping[str, Mapping[str, Fraction]]  # quality -> size -> USD per image
T = TypeVar("T")


def exact(value: object) -> Fraction:
    """``value`` as an exact non-negative amount; a float is read by its shortest decimal text.

    Raises ``ValueError`` for booleans, negative, non-finite or non-numeric values.
    """
    if isinstance(value, bool) or not isinstance(value, Amount):
        raise ValueError(f"not an amount: {value!r}")
    try:
        amount = Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    except (ValueError, OverflowError, ZeroDivisionError) as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if amount < 0:
        raise ValueError(f"negative amount: {value!r}")
    return amount


def to_micros(usd: Fraction) -> int:
    """Whole micro-dollars for an exact USD amount, rounded up."""
    return math.ceil(usd * MICROS_PER_USD)


@dataclass(frozen=True)
class TokenPrices:
    """Prices of one chat/completion model, in USD per token."""

    prompt: Fraction
    completion: Fraction
    cached_prompt: Fraction | None = None  # None: cached tokens cost the prompt price
    cache_write: Fraction | None = (
        None  # None: tokens written to a prompt cache cost the prompt price
    )
    max_output_tokens: int | None = None  # the most one request can produce; None: unknown

    def cost(
        self, prompt_tokens: int, completion_tokens: int, cached_prompt_tokens: int,
        cache_write_tokens: int = 0,
    ) -> Fraction:  # fmt: skip
        """Exact USD; cached and cache-write tokens are parts of ``prompt_tokens``."""
        counts = self._split(
            prompt_tokens, completion_tokens, cached_prompt_tokens, cache_write_tokens
        )
        prices = (self.prompt, self._cached_price, self._write_price, self.completion)
        return sum((n * price for n, price in zip(counts, prices, strict=True)), Fraction(0))

    def cost_micros(
        self, prompt_tokens: int, completion_tokens: int, cached_prompt_tokens: int,
        cache_write_tokens: int = 0,
    ) -> int:  # fmt: skip
        """``cost`` in whole micro-dollars, rounded up: the same exact value, in integer arithmetic
        over the prices' common denominator (Fraction arithmetic was 20 us a call, on every
        request twice: reservation and settlement)."""
        counts = self._split(
            prompt_tokens, completion_tokens, cached_prompt_tokens, cache_write_tokens
        )
        numerators, denominator = self._integer_form
        total = sum(n * numerator for n, numerator in zip(counts, numerators, strict=True))
        return -(-total * MICROS_PER_USD // denominator)  # ceiling division

    @staticmethod
    def _split(
        prompt: int, completion: int, cached: int, written: int
    ) -> tuple[int, int, int, int]:
        """(plain prompt, cached prompt, cache-write prompt, completion) token counts."""
        cached = min(cached, prompt)
        written = min(written, prompt - cached)
        return prompt - cached - written, cached, written, completion

    @property
    def _cached_price(self) -> Fraction:
        return self.prompt if self.cached_prompt is None else self.cached_prompt

    @property
    def _write_price(self) -> Fraction:
        return self.prompt if self.cache_write is None else self.cache_write

    @functools.cached_property
    def _integer_form(self) -> tuple[tuple[int, ...], int]:
        """The four prices of ``_split``'s order as integers over one common denominator."""
        prices = (self.prompt, self._cached_price, self._write_price, self.completion)
        denominator = math.lcm(*(price.denominator for price in prices))
        return tuple(p.numerator * (denominator // p.denominator) for p in prices), denominator


# Prices of a model billed by tokens of several modalities (gpt-image-1, gpt-4o-transcribe,
# gpt-4o-mini-tts): USD per token for each of these fields (JSON: USD per 1M tokens).
MODAL_FIELDS = (
    "text_input", "cached_text_input", "audio_input", "image_input",
    "text_output", "audio_output", "image_output",
)  # fmt: skip


@dataclass(frozen=True)
class ModalTokenPrices:
    """USD per token by modality and direction; a field absent from the data is None."""

    prices: Mapping[str, Fraction]

    def cost_micros(self, usage: ModalCounts) -> int | None:
        """Whole micro-dollars (rounded up) for ``usage``, or None when a counted part has no
        price (the caller then prices by another unit, or not at all)."""
        total = Fraction(0)
        for name, count in usage.parts().items():
            if not count:
                continue
            price = self.prices.get(name)
            if price is None and name == "cached_text_input":
                price = self.prices.get("text_input")
            if price is None:
                return None
            total += count * price
        return to_micros(total)


@dataclass(frozen=True)
class ModalCounts:
    """Token counts by modality; the ``*_tokens`` totals include their parts (text is the rest)."""

    prompt_tokens: int = 0
    cached_text_tokens: int = 0
    audio_input_tokens: int = 0
    image_input_tokens: int = 0
    completion_tokens: int = 0
    audio_output_tokens: int = 0
    image_output_tokens: int = 0

    def parts(self) -> dict[str, int]:
        text_in = self.prompt_tokens - self.audio_input_tokens - self.image_input_tokens
        cached = min(self.cached_text_tokens, max(text_in, 0))
        text_out = self.completion_tokens - self.audio_output_tokens - self.image_output_tokens
        return {
            "text_input": max(text_in - cached, 0),
            "cached_text_input": cached,
            "audio_input": self.audio_input_tokens,
            "image_input": self.image_input_tokens,
            "text_output": max(text_out, 0),
            "audio_output": self.audio_output_tokens,
            "image_output": self.image_output_tokens,
        }


@dataclass(frozen=True)
class PriceTable:
    """One provider's built-in prices; the JSON format is the one of ``openai_prices.json``."""

    provider: str
    prices_as_of: str
    chat: Mapping[str, TokenPrices] = field(default_factory=dict)
    embeddings: Mapping[str, Fraction] = field(default_factory=dict)  # USD per token
    transcription: Mapping[str, Fraction] = field(default_factory=dict)  # USD per second
    speech: Mapping[str, Fraction] = field(default_factory=dict)  # USD per character
    images: Mapping[str, ImagePrices] = field(default_factory=dict)
    # models billed by tokens of several modalities, per operation
    image_tokens: Mapping[str, ModalTokenPrices] = field(default_factory=dict)
    transcription_tokens: Mapping[str, ModalTokenPrices] = field(default_factory=dict)
    speech_tokens: Mapping[str, ModalTokenPrices] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: str | Path) -> PriceTable:
        """Read a price file; numbers are parsed as decimals, never as binary floats."""
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle, parse_float=Decimal)
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"invalid price file {path}: {exc!r}") from exc

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PriceTable:
        return cls(
            provider=str(data.get("provider", "")),
            prices_as_of=str(data.get("prices_as_of", "")),
            chat={m: _token_prices(e) for m, e in _section(data, "chat").items()},
            embeddings=_unit_prices(data, "embeddings", "prompt", _PER_MILLION),
            transcription=_unit_prices(
                data, "audio_transcription", "per_minute", _SECONDS_PER_MINUTE
            ),
            speech=_unit_prices(data, "speech", "per_million_characters", _PER_MILLION),
            images={m: _image_prices(e) for m, e in _section(data, "images").items()},
            image_tokens=_modal_prices(data, "image_tokens"),
            transcription_tokens=_modal_prices(data, "transcription_tokens"),
            speech_tokens=_modal_prices(data, "speech_tokens"),
        )

    def resolve(self, model: str, section: Mapping[str, object]) -> str | None:
        """The first name of ``price_model_candidates(model)`` that ``section`` prices."""
        if model in section:  # the common case, without the snapshot-suffix regex
            return model
        return next((name for name in price_model_candidates(model) if name in section), None)

    def lookup(self, model: str, section: Mapping[str, T]) -> T | None:
        """The entry of ``section`` that prices ``model``, or None."""
        name = self.resolve(model, section)
        return None if name is None else section[name]

    def with_aliases(self, provider: str, aliases: Mapping[str, str]) -> PriceTable:
        """This table under another provider's name, ``alias`` priced as ``target`` in every section."""

        def extend(section: Mapping[str, T]) -> dict[str, T]:
            extra = {
                alias: section[target] for alias, target in aliases.items() if target in section
            }
            return {**section, **extra}

        return PriceTable(
            provider, self.prices_as_of, extend(self.chat), extend(self.embeddings),
            extend(self.transcription), extend(self.speech), extend(self.images),
            extend(self.image_tokens), extend(self.transcription_tokens),
            extend(self.speech_tokens),
        )  # fmt: skip

    def sections(self) -> tuple[Mapping[str, object], ...]:
        return (
            self.chat, self.embeddings, self.transcription, self.speech, self.images,
            self.image_tokens, self.transcription_tokens, self.speech_tokens,
        )  # fmt: skip

    def has_entry(self, name: str) -> bool:
        return any(name in section for section in self.sections())


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = data.get(name, {})
    if not isinstance(section, Mapping):
        raise ValueError(f"section {name!r} is not an object")
    return section


def _token_prices(entry: Mapping[str, Any]) -> TokenPrices:
    cached, written = entry.get("cached_prompt"), entry.get("cache_write_prompt")
    return TokenPrices(
        prompt=exact(entry["prompt"]) / _PER_MILLION,
        completion=exact(entry["completion"]) / _PER_MILLION,
        cached_prompt=None if cached is None else exact(cached) / _PER_MILLION,
        cache_write=None if written is None else exact(written) / _PER_MILLION,
        max_output_tokens=_positive_int(entry.get("max_output_tokens")),
    )


def _positive_int(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"max_output_tokens must be a positive integer, not {value!r}")
    return value


def max_output_tokens(model: str, *, table: PriceTable | None = None) -> int | None:
    """The most output tokens one request to `model` can produce, per the price data; None when
    the data does not say (costMap-only, vLLM and custom models)."""
    prices = _table(table)
    entry = prices.lookup(model, prices.chat)
    return None if entry is None else entry.max_output_tokens


def _unit_prices(data: Mapping[str, Any], name: str, key: str, units: int) -> dict[str, Fraction]:
    return {model: exact(entry[key]) / units for model, entry in _section(data, name).items()}


def _modal_prices(data: Mapping[str, Any], name: str) -> dict[str, ModalTokenPrices]:
    def entry_prices(entry: Mapping[str, Any]) -> ModalTokenPrices:
        unknown = set(entry) - set(MODAL_FIELDS)
        if unknown:
            raise ValueError(f"unknown price fields {sorted(unknown)} in {name}")
        return ModalTokenPrices({f: exact(usd) / _PER_MILLION for f, usd in entry.items()})

    return {model: entry_prices(entry) for model, entry in _section(data, name).items()}


def _image_prices(entry: Mapping[str, Any]) -> ImagePrices:
    return {
        quality: {size: exact(usd) for size, usd in sizes.items()}
        for quality, sizes in entry.items()
    }


NO_PRICES = PriceTable(provider="", prices_as_of="")
"""The table of a provider without built-in prices (vLLM, custom): only a costMap prices it."""


@functools.cache
def builtin_prices(provider: str) -> PriceTable:
    """The built-in table `data/<provider>_prices.json`, read once per process."""
    return PriceTable.from_file(DATA_DIR / f"{provider}_prices.json")


def openai_prices() -> PriceTable:
    return builtin_prices("openai")


def _table(table: PriceTable | None) -> PriceTable:
    return openai_prices() if table is None else table


@dataclass(frozen=True)
class CostMap:
    """A provider setting's ``costMap``: exact-name overrides, stored in USD per token.

    The wire format is ``{"promptCostPerModel": {model: usd_per_1K_tokens},
    "completionCostPerModel": {...}, "embeddingsCostPerModel": {...}}``; zero entries are dropped
    (only a non-zero entry overrides the built-in price).
    """

    prompt: Mapping[str, Fraction] = field(default_factory=dict)
    completion: Mapping[str, Fraction] = field(default_factory=dict)
    embeddings: Mapping[str, Fraction] = field(default_factory=dict)

    @classmethod
    def from_setting(cls, raw: Mapping[str, Any] | None) -> CostMap:
        """Parse a setting's costMap (``None`` or ``{}``: no overrides); raises ``ValueError``."""
        raw = raw or {}
        return cls(
            prompt=_overrides(raw.get("promptCostPerModel")),
            completion=_overrides(raw.get("completionCostPerModel")),
            embeddings=_overrides(raw.get("embeddingsCostPerModel")),
        )


def _overrides(per_model: object) -> dict[str, Fraction]:
    if per_model is None:
        return {}
    if not isinstance(per_model, Mapping):
        raise ValueError("a costMap entry must map model names to USD per 1K tokens")
    prices = {str(model): exact(usd) / _PER_THOUSAND for model, usd in per_model.items()}
    return {model: price for model, price in prices.items() if price}


_NO_OVERRIDES = CostMap()


def price_model_candidates(model: str) -> list[str]:
    """Names to try, in order: exact name, then snapshot base; ``ft:`` names by their base."""
    if model.startswith("ft:"):
        base = model.split(":")[1]
        return [model, *(f"ft:{name}" for name in _snapshot_candidates(base))]
    return _snapshot_candidates(model)


def _snapshot_candidates(model: str) -> list[str]:
    base = _SNAPSHOT_SUFFIX.sub("", model)
    return [model] if base == model else [model, base]


def resolve_price_model(model: str, table: PriceTable | None = None) -> str | None:
    """The table entry that prices ``model`` (e.g. ``gpt-4o-2024-08-06`` -> ``gpt-4o-2024-08-06``,
    ``gpt-4.1-2025-04-14`` -> ``gpt-4.1``, ``ft:gpt-4o-mini-2024-07-18:org::id`` ->
    ``ft:gpt-4o-mini``), or None."""
    prices = _table(table)
    return next((n for n in price_model_candidates(model) if prices.has_entry(n)), None)


def chat_prices(
    model: str, cost_map: CostMap | None = None, *, table: PriceTable | None = None
) -> TokenPrices | None:
    """Prices of a chat/completion model after ``cost_map`` overrides, or None if incomplete.

    An overridden prompt price also applies to cached and cache-write prompt tokens (a costMap has
    no cache prices).
    """
    prices = _table(table)
    builtin = prices.lookup(model, prices.chat)
    overrides = cost_map or _NO_OVERRIDES
    prompt = overrides.prompt.get(model)
    if prompt is None and model not in overrides.completion and builtin is not None:
        return builtin
    if prompt is not None:
        cached = written = None
    elif builtin is not None:
        prompt, cached, written = builtin.prompt, builtin.cached_prompt, builtin.cache_write
    else:
        return None
    completion = overrides.completion.get(model, builtin.completion if builtin else None)
    return None if completion is None else TokenPrices(prompt, completion, cached, written)


def chat_cost_micros(
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    cached_prompt_tokens: int = 0,
    cost_map: CostMap | None = None,
    *,
    table: PriceTable | None = None,
    cache_write_tokens: int = 0,
) -> int | None:
    """Cost of a chat or completion request; ``cached_prompt_tokens`` and ``cache_write_tokens``
    are parts of ``prompt_tokens``."""
    _check_counts(prompt_tokens, completion_tokens, cached_prompt_tokens, cache_write_tokens)
    prices = chat_prices(model, cost_map, table=table)
    if prices is None:
        return None
    return prices.cost_micros(
        prompt_tokens, completion_tokens, cached_prompt_tokens, cache_write_tokens
    )


def embedding_price(
    model: str, cost_map: CostMap | None = None, *, table: PriceTable | None = None
) -> Fraction | None:
    """USD per input token of an embeddings model after ``cost_map`` overrides, or None."""
    override = (cost_map or _NO_OVERRIDES).embeddings.get(model)
    if override is not None:
        return override
    prices = _table(table)
    return prices.lookup(model, prices.embeddings)


def embedding_cost_micros(
    model: str,
    prompt_tokens: int,
    cost_map: CostMap | None = None,
    *,
    table: PriceTable | None = None,
) -> int | None:
    """Cost of an embeddings request of ``prompt_tokens`` input tokens."""
    _check_counts(prompt_tokens)
    price = embedding_price(model, cost_map, table=table)
    return None if price is None else to_micros(prompt_tokens * price)


def audio_transcription_cost_micros(
    model: str, seconds: Amount, *, table: PriceTable | None = None
) -> int | None:
    """Cost of transcribing (or translating) ``seconds`` of audio, billed to the nearest second."""
    prices = _table(table)
    per_second = prices.lookup(model, prices.transcription)
    if per_second is None:
        return None
    billed_seconds = math.floor(exact(seconds) + Fraction(1, 2))
    return to_micros(billed_seconds * per_second)


def speech_cost_micros(
    model: str, characters: int, *, table: PriceTable | None = None
) -> int | None:
    """Cost of synthesizing speech from ``characters`` input characters."""
    _check_counts(characters)
    prices = _table(table)
    per_character = prices.lookup(model, prices.speech)
    return None if per_character is None else to_micros(characters * per_character)


def image_cost_micros(
    model: str,
    size: str | None = None,
    quality: str | None = None,
    n: int = 1,
    *,
    table: PriceTable | None = None,
) -> int | None:
    """Cost of ``n`` images; size defaults to 1024x1024 and quality (None or "auto") to standard
    (gpt-image models: "high"); size "auto" is priced as the tier's dearest size.

    A model with a single quality tier (dall-e-2) ignores ``quality``. Unknown size: None.
    """
    _check_counts(n)
    prices = _table(table)
    tiers = prices.lookup(model, prices.images)
    sizes = None if tiers is None else _quality_tier(tiers, quality)
    per_image = None if sizes is None else _size_price(sizes, size)
    return None if per_image is None else to_micros(n * per_image)


def modal_cost_micros(
    model: str, section: Mapping[str, ModalTokenPrices], counts: ModalCounts,
    *, table: PriceTable | None = None,
) -> int | None:  # fmt: skip
    """Cost of a token-billed image, transcription or speech request (``section`` is one of the
    table's ``*_tokens`` sections), or None when the model or a counted part has no price."""
    prices = _table(table).lookup(model, section)
    return None if prices is None else prices.cost_micros(counts)


def _quality_tier(tiers: ImagePrices, quality: str | None) -> Mapping[str, Fraction] | None:
    """The tier of ``quality``. Unnamed or "auto": standard (dall-e), else the dearest ("high":
    gpt-image models pick their quality, so an estimate must assume the highest)."""
    name = DEFAULT_IMAGE_QUALITY if quality in (None, "auto") else quality
    if name not in tiers and quality in (None, "auto") and "high" in tiers:
        name = "high"
    if name in tiers:
        return tiers[name]
    return next(iter(tiers.values())) if len(tiers) == 1 else None


def _size_price(sizes: Mapping[str, Fraction], size: str | None) -> Fraction | None:
    """The price of ``size``; "auto" (the model picks): the dearest size of the tier."""
    if size == "auto":
        return max(sizes.values(), default=None)
    return sizes.get(size or DEFAULT_IMAGE_SIZE)


def has_price(
    model: str, cost_map: CostMap | None = None, *, table: PriceTable | None = None
) -> bool:
    """True if any request to ``model`` can be priced (built-in table or ``cost_map``)."""
    prices = _table(table)
    return (
        chat_prices(model, cost_map, table=prices) is not None
        or embedding_price(model, cost_map, table=prices) is not None
        or resolve_price_model(model, prices) is not None
    )


def _check_counts(*counts: int) -> None:
    if any(count < 0 for count in counts):
        raise ValueError(f"counts must be >= 0, got {counts}")
