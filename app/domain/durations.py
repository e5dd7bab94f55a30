"""Go-style durations (`500ms`, `90s`, `1h30m`, `2d`) as BricksLLM accepts them in settings and ttls."""

from __future__ import annotations

import re

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


class DurationError(ValueError):
    """The text is not a duration."""


def parse_duration(text: str) -> float:
    """Return the seconds in `text`: one or more number+unit parts (ms, s, m, h, d), e.g. `1h30m`."""
    compact = text.strip()
    if not compact:
        raise DurationError("empty duration")
    position = 0
    total = 0.0
    for match in _PART.finditer(compact):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(compact):
        raise DurationError(f"not a duration: {text!r}")
    return total


def parse_ttl(text: str) -> int:
    """Seconds of a key or user ttl: whole seconds, at least one (units s, m, h, d; compound allowed)."""
    if "ms" in text:
        raise DurationError("ttl units are s, m, h and d")
    seconds = parse_duration(text)
    if seconds < 1 or seconds != int(seconds):
        raise DurationError("ttl must be a whole number of seconds, at least 1s")
    return int(seconds)
