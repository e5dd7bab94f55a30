"""Request headers for gevent's WSGI server (the worker in `gunicorn.conf.py`), parsed faster.

gevent's server reads a request's headers with `http.client.parse_headers`, which hands them to
the stdlib `email` parser: 41 µs for an SDK request's eight headers, 4% of a proxy worker's CPU
(12 µs here). Here the lines are read by the same stdlib
reader (its 64 KiB line and 100 header limits), and a block whose every line is a plain
`Name: value` line (a name of the characters the `email` parser accepts, a value without CR or
LF, ended by a newline, then the blank line) is split directly into the same (name, value) pairs
the `email` parser would give. Anything else (folded lines, a line without a colon, a truncated
block) goes to gevent's own parser, unchanged. tests/unit/test_serving_headers.py holds both paths
to the same answers.
"""

from __future__ import annotations

import io
import re
from http import client
from typing import Any

# OldMessage: gevent's adapter of the stdlib's header message to the interface its server reads.
from gevent.pywsgi import OldMessage, headers_factory

# The header line the `email` parser reads as one (name, value): its headerRE name characters,
# a colon, then a value without CR or LF.
_PLAIN_LINE = re.compile(rb"([!-9;-~]+):([^\r\n]*)\r?\n\Z")
_END_OF_HEADERS = (b"\r\n", b"\n")


def parse_request_headers(fp: Any, *_args: Any) -> Any:
    """What `gevent.pywsgi.headers_factory(fp)` returns, for the headers that follow in `fp`."""
    try:
        lines = client._read_headers(fp)  # type: ignore[attr-defined]  # the stdlib's own reader
    except client.LineTooLong:
        return headers_factory(_TooLong())  # gevent's own answer to an over-long line
    pairs = _plain_pairs(lines)
    if pairs is None:
        return headers_factory(io.BytesIO(b"".join(lines)))
    message = OldMessage()
    for name, value in pairs:
        message.set_raw(name, value)
    return message


class _TooLong(io.BytesIO):
    def readline(self, size: int | None = -1) -> bytes:
        raise client.LineTooLong("header line")


def _plain_pairs(lines: list[bytes]) -> list[tuple[str, str]] | None:
    if not lines or lines[-1] not in _END_OF_HEADERS:
        return None
    pairs = []
    for line in lines[:-1]:
        match = _PLAIN_LINE.match(line)
        if match is None:
            return None
        name, value = match.groups()
        pairs.append((name.decode("latin-1"), value.decode("latin-1").lstrip(" \t")))
    return pairs
