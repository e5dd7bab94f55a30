"""Where the texts a policy inspects sit in a JSON body, to the character, so redaction can
rewrite those string literals alone and leave every other byte of the body as it was.

`find_texts` walks the body's text: under the given top-level keys it collects every string,
descending through arrays and through objects' `descend` keys (message `content`, part `text`,
...); every other value is skipped by the C decoder without being looked at. `splice` puts new
string literals in place of old ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()

# The request texts BricksLLM inspects, for every provider: chat and Anthropic `messages` (their
# `content`, a string or text parts), Anthropic `system`, embeddings and Responses `input`,
# completions `prompt`, assistants/runs `instructions`, thread messages' `content`, runs'
# `additional_messages`, and `thread.messages` when a thread is created with its run.
REQUEST_KEYS = frozenset({"messages", "system", "input", "prompt", "instructions",
                          "additional_instructions", "additional_messages", "content", "thread"})  # fmt: skip
REQUEST_DESCEND = frozenset({"content", "text", "messages"})
# The texts of an answer: chat `choices[].message.content` and completions `choices[].text`,
# Anthropic `content[].text`, Responses `output[].content[].text` and `output_text`.
RESPONSE_KEYS = frozenset({"choices", "content", "output", "output_text"})
RESPONSE_DESCEND = frozenset({"message", "content", "text"})


@dataclass(frozen=True)
class Slot:
    """A string literal of the body: `text[start:end]` is the literal (quotes included),
    `value` its decoded value."""

    start: int
    end: int
    value: str


class _Walker:
    def __init__(self, text: str, descend: frozenset[str]) -> None:
        self.text = text
        self.descend = descend
        self.slots: list[Slot] = []

    def ws(self, pos: int) -> int:
        match = _WS.match(self.text, pos)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    def skip(self, pos: int) -> int:
        return int(_DECODER.raw_decode(self.text, pos)[1])

    def value(self, pos: int) -> int:
        """Collect the strings of the value at `pos`; return where it ends."""
        first = self.text[pos]
        if first == '"':
            value, end = scanstring(self.text, pos + 1)
            self.slots.append(Slot(pos, end, value))
            return int(end)
        if first == "[":
            return self.array(pos)
        if first == "{":
            return self.members(pos, self.descend)
        return self.skip(pos)

    def array(self, pos: int) -> int:
        pos = self.ws(pos + 1)
        if self.text[pos] == "]":
            return pos + 1
        while True:
            pos = self.ws(self.value(pos))
            if self.text[pos] == "]":
                return pos + 1
            pos = self.ws(pos + 1)  # past the comma

    def members(self, pos: int, keys: frozenset[str]) -> int:
        """Walk an object, collecting under `keys` and skipping the rest."""
        pos = self.ws(pos + 1)
        if self.text[pos] == "}":
            return pos + 1
        while True:
            key, pos = scanstring(self.text, pos + 1)
            pos = self.ws(self.ws(pos) + 1)  # past the colon
            pos = self.value(pos) if key in keys else self.skip(pos)
            pos = self.ws(pos)
            if self.text[pos] == "}":
                return pos + 1
            pos = self.ws(pos + 1)


def find_texts(text: str, keys: frozenset[str], descend: frozenset[str]) -> list[Slot]:
    """The string literals under `keys` of the top-level object in `text` (a JSON document the
    caller has already parsed successfully), in document order."""
    walker = _Walker(text, descend)
    start = walker.ws(0)
    if text[start : start + 1] == "{":
        walker.members(start, keys)
    return walker.slots


def splice(text: str, replacements: Iterable[tuple[Slot, str]]) -> str:
    """`text` with each slot's literal replaced by the JSON literal of its new value."""
    parts: list[str] = []
    last = 0
    for slot, value in sorted(replacements, key=lambda r: r[0].start):
        parts += [text[last : slot.start], json.dumps(value, ensure_ascii=False)]
        last = slot.end
    parts.append(text[last:])
    return "".join(parts)
