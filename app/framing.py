"""The rules a request's framing must follow before any application code sees it (RFC 9112),
the whole-body deadline, and the JSON answers the server sends when it refuses a request.

Used by `app/serving.py` (the worker's connection handler). Pure functions over bytes and
strings, except `BodyDeadline`, which wraps the WSGI input stream.

Refused with 400 (and the connection closed, since where the next request starts is unknown):
- both `Content-Length` and `Transfer-Encoding` (a request smuggling vector, RFC 9112 §6.1);
- `Content-Length` values that are not all the same run of digits (`+5`, `0x10`, `5, 6`);
- a `Transfer-Encoding` other than `chunked` (the only coding a server must know);
- an obsolete folded header line (RFC 9112 §5.2), or a header with a control character other than
  a tab (RFC 9110 §5.5);
- a request target with a control character, raw or percent-encoded (`%0d%0a`, `%00`, `%7f`).
"""

from __future__ import annotations

import re
import time
from typing import Any

import gevent
import orjson
from werkzeug.exceptions import RequestTimeout

_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_TARGET_CONTROL = re.compile(r"[\x00-\x20\x7f]|%(?:[01][0-9a-fA-F]|7[fF])")
_DIGITS = re.compile(rb"[0-9]+")
_REASONS = {400: "Bad Request", 408: "Request Timeout", 413: "Content Too Large",
            414: "URI Too Long", 500: "Internal Server Error"}  # fmt: skip
_TYPES = {400: "invalid_request_error", 408: "invalid_request_error",
          413: "invalid_request_error", 414: "invalid_request_error"}  # fmt: skip


class BadFraming(ValueError):
    """The request cannot be framed safely; its message says why (sent to the client)."""

    header_lines: tuple[bytes, ...] = ()  # the head's raw lines, when they were the problem


class RequestTimedOut(Exception):
    """A request's head did not arrive within its deadline."""


def check_header_lines(lines: list[bytes]) -> None:
    """Raise BadFraming when the raw header lines (each with its line end, the blank line last)
    break a framing rule."""
    lengths: list[bytes] = []
    codings: list[bytes] = []
    for line in lines:
        body = line.rstrip(b"\r\n")
        if not body:
            continue
        if body[:1] in (b" ", b"\t"):
            raise BadFraming("obsolete line folding in a header is not accepted")
        if _CONTROL.search(body):
            raise BadFraming("a header contains a control character")
        name, _, value = body.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            lengths += [v.strip() for v in value.split(b",")]
        elif name == b"transfer-encoding":
            codings += [v.strip().lower() for v in value.split(b",") if v.strip()]
    if lengths and codings:
        raise BadFraming("a request must not carry both Content-Length and Transfer-Encoding")
    if lengths and (not all(_DIGITS.fullmatch(v) for v in lengths) or len(set(lengths)) > 1):
        raise BadFraming("Content-Length must be one non-negative number")
    if codings and codings != [b"chunked"]:
        raise BadFraming("the only Transfer-Encoding accepted is chunked")


def check_request_target(target: str) -> None:
    """Raise BadFraming when the request target holds a control character, raw or encoded."""
    if _TARGET_CONTROL.search(target):
        raise BadFraming("the request path contains a control character")


def error_response(status: int, message: str, shape: str = "proxy") -> bytes:
    """A whole HTTP/1.1 answer that closes the connection: the proxy's error body
    (`{"error": {"code", "message", "type"}}`) or the admin's (`{"type", "title", ...}`)."""
    if shape == "admin":
        body: dict[str, Any] = {"type": "/errors/request", "title": _REASONS.get(status, "error"),
                                "status": status, "detail": message, "instance": ""}  # fmt: skip
    else:
        body = {"error": {"code": str(status), "message": f"[BricksLLM] {message}",
                          "type": _TYPES.get(status, "api_error")}}  # fmt: skip
    payload = orjson.dumps(body)
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + payload


class BodyDeadline:
    """The WSGI input, readable until `timeout_s` after the head: past it, a read raises
    werkzeug's RequestTimeout (408 through the app's error handler), the connection closes, and
    the rest of the body is not waited for."""

    def __init__(self, inner: Any, timeout_s: float, handler: Any) -> None:
        self._inner = inner
        self._timeout_s = timeout_s
        self._deadline = time.monotonic() + timeout_s
        self._handler = handler

    def _call(self, method: str, *args: Any) -> Any:
        left = self._deadline - time.monotonic()
        if left > 0:
            try:
                with gevent.Timeout(left, _Expired):
                    return getattr(self._inner, method)(*args)
            except _Expired:
                pass
        self._give_up()
        raise RequestTimeout(f"the request body did not arrive within {self._timeout_s:g}s")

    def _give_up(self) -> None:
        # The handler must neither wait for the rest of the body nor read a next request here.
        self._handler.close_connection = True
        for name, value in (("content_length", None), ("chunked_input", False)):
            if hasattr(type(self._inner), name):
                setattr(self._inner, name, value)

    def read(self, size: int | None = None) -> bytes:
        data: bytes = self._call("read", size)
        return data

    def readline(self, size: int | None = None) -> bytes:
        data: bytes = self._call("readline", size)
        return data

    def readlines(self, hint: int | None = None) -> list[bytes]:
        lines: list[bytes] = self._call("readlines", hint)
        return lines

    def __iter__(self) -> BodyDeadline:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class _Expired(Exception):
    pass
