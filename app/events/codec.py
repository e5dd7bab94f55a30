"""How one event is written as one journal line (JSON, bodies base64) and read back.

The line carries every field of `Event` by name, so an event read back equals the one written.
Unknown names are ignored on read: a journal written by a newer release still replays.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

from app.domain.events import Event

_FIELDS = {f.name for f in dataclasses.fields(Event)}
_BODIES = ("request_body", "response_body")


class CorruptLine(ValueError):
    """A journal line that is not a whole event (a torn write, or a damaged file)."""


def encode(event: Event) -> bytes:
    """The event as one line of JSON, newline included."""
    record: dict[str, Any] = {name: getattr(event, name) for name in _FIELDS}
    record["tags"] = list(event.tags)
    for name in _BODIES:
        body = record[name]
        record[name] = None if body is None else base64.b64encode(body).decode("ascii")
    return json.dumps(record, separators=(",", ":"), sort_keys=True).encode("utf-8") + b"\n"


def decode(line: bytes) -> Event:
    """The event of one journal line; raises CorruptLine when the line is not one."""
    try:
        record = json.loads(line)
        values = {k: v for k, v in record.items() if k in _FIELDS}
        values["tags"] = tuple(values.get("tags") or ())
        for name in _BODIES:
            body = values.get(name)
            values[name] = None if body is None else base64.b64decode(body, validate=True)
        return Event(**values)
    except (ValueError, TypeError, AttributeError) as exc:
        raise CorruptLine(f"not an event line: {exc}") from exc
