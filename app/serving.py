"""How the proxy's workers talk HTTP to clients: gevent's WSGI handler, cheaper and bounded.

gunicorn's `gevent_pywsgi` worker (`gunicorn.conf.py`) serves through `client_handler()`, which
is gevent's handler with three changes, each measured in a proxy worker (bench/results/REPORT.md):

- Request headers are parsed faster. gevent reads them with `http.client.parse_headers`, which
  hands them to the stdlib `email` parser: 41 µs for an SDK request's eight headers (12 µs here).
  The lines are read by the same stdlib reader (its 64 KiB line and 100 header limits), and a
  block whose every line is a plain `Name: value` line (a name of the characters the `email`
  parser accepts, a value without CR or LF, ended by a newline, then the blank line) is split
  directly into the same (name, value) pairs the `email` parser would give. Anything else (folded
  lines, a line without a colon, a truncated block) goes to gevent's own parser, unchanged.
  tests/unit/test_serving_headers.py holds both paths to the same answers.
- An answer's head leaves with its first body bytes in one send (gevent sends them apart), and
  no write asks the kernel for the send-buffer size first (`app/green_io.py`).
- gunicorn's `keepalive` bounds every wait for a client: gevent's server never applies it, so an
  idle keep-alive connection would hold its greenlet and descriptor until the client closed it,
  and a worker takes at most `worker_connections`. Waiting for the upstream is not such a wait: a
  slow model keeps its client.
- When the worker stops (`close_idle_connections()`, called by gunicorn.conf.py), a keep-alive
  connection waiting for its next request is closed at once, and a busy one after its answer:
  gunicorn waits for every open connection up to GUNICORN_GRACEFUL_TIMEOUT, so a single idle
  client (a browser, an SDK's connection pool) held every stop and deploy for 30 s.
"""

from __future__ import annotations

import contextlib
import io
import re
import socket
from http import client
from typing import Any

# OldMessage: gevent's adapter of the stdlib's header message to the interface its server reads.
from gevent.pywsgi import OldMessage, headers_factory
from gunicorn.workers.ggevent import PyWSGIHandler

from app.green_io import send_all

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


class _Idle:
    """This worker's keep-alive connections waiting for their next request."""

    draining = False  # the worker is stopping: no connection waits for another request
    waiting: set[ClientHandler] = set()


def close_idle_connections() -> None:
    """The worker stops: close every connection waiting for its next request now, and every busy
    one once its answer is sent. A connection that has not sent its first request is served."""
    _Idle.draining = True
    for handler in list(_Idle.waiting):
        handler.close_while_idle()


def client_handler(client_timeout_s: float | None) -> type[PyWSGIHandler]:
    """The handler class for a worker whose client waits are bounded by `client_timeout_s`."""
    return type("ClientHandler", (ClientHandler,), {"client_timeout_s": client_timeout_s})


class ClientHandler(PyWSGIHandler):  # type: ignore[misc]  # gevent's classes are untyped
    client_timeout_s: float | None = None
    served = False  # this connection has sent a request: later reads are keep-alive waits
    # gevent's name for its header parser, and the send this handler writes with.
    MessageClass = staticmethod(parse_request_headers)
    send_all = staticmethod(send_all)
    # A first body write up to this size is copied behind the head; a larger one goes on its own.
    coalesced_body_limit = 64 * 1024

    def handle(self) -> None:
        self.socket.settimeout(self.client_timeout_s)
        self.served = False
        super().handle()

    def read_requestline(self) -> str:
        # gevent's own; waits after the first request are keep-alive waits the stop may cut short.
        if not self.served:
            self.served = True
            return str(super().read_requestline())
        if _Idle.draining:
            return ""  # gevent closes the connection on an empty request line
        _Idle.waiting.add(self)
        try:
            return str(super().read_requestline())
        finally:
            _Idle.waiting.discard(self)

    def close_while_idle(self) -> None:
        """End the wait for a next request: the read sees end of file, gevent closes it."""
        with contextlib.suppress(OSError):  # already closed by the client
            self.socket.shutdown(socket.SHUT_RDWR)

    def _sendall(self, data: bytes | bytearray) -> None:
        # gevent's own, with `send_all` in place of the socket's sendall().
        try:
            self.send_all(self.socket, data)
        except OSError as exc:
            self.status = f"socket error: {exc}"
            if self.code > 0:  # type: ignore[has-type]  # set by gevent's untyped handler
                self.code = -self.code  # type: ignore[has-type]
            raise
        self.response_length += len(data)

    def _write_with_headers(self, data: bytes) -> None:
        # gevent's own, but the head and a small first write leave in one send, as one segment.
        self.headers_sent = True
        self.finalize_headers()
        head = bytearray(b"HTTP/1.1 ")
        head += self.status  # type: ignore[arg-type]  # bytes: gevent's start_response encodes it
        head += b"\r\n"
        for name, value in self.response_headers:
            head += b"%s: %s\r\n" % (name, value)
        head += b"\r\n"
        if not data or len(data) > self.coalesced_body_limit:
            self._sendall(head)
            self._write(data)
        elif self.response_use_chunked:
            head += b"%x\r\n%s\r\n" % (len(data), data)
            self._sendall(head)
        else:
            head += data
            self._sendall(head)
