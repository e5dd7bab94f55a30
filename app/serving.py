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

And it refuses what a hostile client can do to the connection itself (`app/framing.py` holds the
rules; every refusal is a JSON answer in the server's error shape, then the connection closes,
and the app's `record_refusal` gets what is known of the request for its event,
`app/proxy/refusals.py`):

- framing per RFC 9112: both Content-Length and Transfer-Encoding, conflicting or malformed
  Content-Lengths, a transfer coding other than `chunked`, obsolete line folding, and control
  characters in a header or in the (percent-decoded) path are a 400;
- whole-request deadlines: the head (request line and headers) must arrive within
  `head_timeout_s` of its first byte, the body within `body_timeout_s` of the head, else 408.
  A wait for a client's next request is still bounded by `keepalive` alone;
- a worker's slots are not all held by clients that do not send: when more than half of
  `worker_connections` wait for a request head (idle keep-alive or trickling), the one that has
  waited longest is closed, so a new client always finds a slot (slowloris).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import time
from collections import OrderedDict
from http import client
from typing import Any

import gevent

# OldMessage: gevent's adapter of the stdlib's header message to the interface its server reads.
from gevent.pywsgi import OldMessage, headers_factory
from gunicorn.workers.ggevent import PyWSGIHandler
from werkzeug.datastructures import Headers

from app.framing import (
    BadFraming,
    BodyDeadline,
    RequestTimedOut,
    check_header_lines,
    check_request_target,
    error_response,
)
from app.green_io import send_all

# The header line the `email` parser reads as one (name, value): its headerRE name characters,
# a colon, then a value without CR or LF.
_PLAIN_LINE = re.compile(rb"([!-9;-~]+):([^\r\n]*)\r?\n\Z")
_END_OF_HEADERS = (b"\r\n", b"\n")
_LONGEST_REFUSED_PATH = 4096  # of a refused request line, kept in its event

log = logging.getLogger(__name__)


def parse_request_headers(fp: Any, *_args: Any) -> Any:
    """What `gevent.pywsgi.headers_factory(fp)` returns, for the headers that follow in `fp`."""
    try:
        lines = client._read_headers(fp)  # type: ignore[attr-defined]  # the stdlib's own reader
    except client.LineTooLong:
        return headers_factory(_TooLong())  # gevent's own answer to an over-long line
    try:
        check_header_lines(lines)
    except BadFraming as refusal:  # gevent answers 400 and closes; the lines name the key
        refusal.header_lines = tuple(lines)
        raise
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


def client_handler(
    client_timeout_s: float | None,
    head_timeout_s: float | None = None,
    body_timeout_s: float | None = None,
    worker_connections: int = 0,
    error_shape: str = "proxy",
) -> type[PyWSGIHandler]:
    """The handler class of a worker: client waits bounded by `client_timeout_s`, a request's
    head and body by their deadlines, and at most half of `worker_connections` (when given)
    waiting for a head."""
    return type("ClientHandler", (ClientHandler,), {
        "client_timeout_s": client_timeout_s, "head_timeout_s": head_timeout_s,
        "body_timeout_s": body_timeout_s, "error_shape": error_shape,
        "waiting": HeadWaiters(worker_connections // 2 if worker_connections else 0),
    })  # fmt: skip


class HeadWaiters:
    """The connections of a worker waiting for a request head, oldest first. Past `limit`, the
    oldest is shut down: its wait ends at once (end of stream) and its handler closes it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._waiting: OrderedDict[Any, float] = OrderedDict()
        self.shed = 0

    def enter(self, handler: Any) -> None:
        if not self.limit:
            return
        self._waiting[handler] = time.monotonic()
        while len(self._waiting) > self.limit:
            # Synchronous: the oldest is still waiting (it cannot run before this greenlet yields).
            oldest, _ = self._waiting.popitem(last=False)
            self.shed += 1
            with contextlib.suppress(OSError, AttributeError):  # already closed
                oldest.socket.shutdown(socket.SHUT_RDWR)

    def leave(self, handler: Any) -> None:
        self._waiting.pop(handler, None)


class ClientHandler(PyWSGIHandler):  # type: ignore[misc]  # gevent's classes are untyped
    client_timeout_s: float | None = None
    served = False  # this connection has sent a request: later reads are keep-alive waits
    head_timeout_s: float | None = None
    body_timeout_s: float | None = None
    error_shape = "proxy"
    waiting = HeadWaiters(0)
    _head_timer: Any = None
    # gevent's name for its header parser, and the send this handler writes with.
    MessageClass = staticmethod(parse_request_headers)
    send_all = staticmethod(send_all)
    # A first body write up to this size is copied behind the head; a larger one goes on its own.
    coalesced_body_limit = 64 * 1024

    def handle(self) -> None:
        self.socket.settimeout(self.client_timeout_s)
        self.served = False
        try:
            super().handle()
        finally:
            self.waiting.leave(self)

    # -- the head: one deadline from its first byte, refusals in the error shape -------------

    def handle_one_request(self) -> Any:
        self.waiting.enter(self)
        # What this request's refusal event knows: nothing from the connection's previous one.
        self.requestline = self.command = self.path = None
        self._request_headers: Any = None
        try:
            result = super().handle_one_request()
        except RequestTimedOut as exc:
            self._record_refusal(408, str(exc))
            return ("408", error_response(408, str(exc), self.error_shape))
        finally:
            self._stop_head_timer()
            self.waiting.leave(self)
        if isinstance(result, tuple):  # gevent's plain-text 400 or 414: ours in JSON
            status = int(result[0])
            self._record_refusal(status, self._refusal)
            return (result[0], error_response(status, self._refusal, self.error_shape))
        return result

    _refusal = "the request is malformed"

    def read_requestline(self) -> str:
        # The wait for a request's first byte is an idle keep-alive: keepalive bounds it, and
        # after the first request a stopping worker ends it at once (close_idle_connections).
        if self.served and _Idle.draining:
            return ""  # gevent closes the connection on an empty request line
        if not self._first_byte_arrived():
            return ""
        self.served = True
        if self.head_timeout_s:
            self._head_timer = gevent.Timeout.start_new(
                self.head_timeout_s,
                RequestTimedOut(f"the request head did not arrive within {self.head_timeout_s:g}s"),
            )
        line: str = super().read_requestline()
        return line

    def close_while_idle(self) -> None:
        """End the wait for a next request: the read sees end of file, gevent closes it."""
        with contextlib.suppress(OSError):  # already closed by the client
            self.socket.shutdown(socket.SHUT_RDWR)

    def _first_byte_arrived(self) -> bool:
        if not self.served:
            return bool(self.rfile.peek(1))
        _Idle.waiting.add(self)
        try:
            return bool(self.rfile.peek(1))
        finally:
            _Idle.waiting.discard(self)

    def read_request(self, raw_requestline: str) -> bool:
        try:
            done: bool = super().read_request(raw_requestline)
            self._request_headers = self.headers
            check_request_target(self.path or "")  # after the headers: its event has the key
        finally:
            self._stop_head_timer()
        self.waiting.leave(self)
        return done

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.close()
            self._head_timer = None

    def _handle_client_error(self, ex: BaseException) -> Any:
        if isinstance(ex, RequestTimedOut):
            raise ex  # answered 408 by handle_one_request
        self._refusal = str(ex) if isinstance(ex, BadFraming) else "the request is malformed"
        if isinstance(ex, BadFraming) and ex.header_lines:
            self._request_headers = ex.header_lines
        return super()._handle_client_error(ex)

    # -- the event of a refused request (app/proxy/refusals.py) -------------------------------

    def _record_refusal(self, status: int, message: str) -> None:
        record = getattr(self.server.application, "record_refusal", None)
        method, path = self._refused_method_and_path()
        if record is None or not method:
            return  # no request line: not a request (a trickling or idle connection)
        try:
            record(method, path, self._refused_headers(), status, message)
        except Exception:  # the refusal is answered even when its event fails
            log.exception("could not record the event of a refused request")

    def _refused_method_and_path(self) -> tuple[str, str]:
        if self.command:
            method, target = self.command, self.path or ""
        else:  # gevent refused the request line itself (too long, malformed)
            words = (self.requestline or "").split()
            method, target = (words[0][:16], words[1]) if len(words) >= 2 else ("", "")
        return method, target.partition("?")[0][:_LONGEST_REFUSED_PATH]

    def _refused_headers(self) -> Headers:
        found = self._request_headers
        if found is None:  # the head did not arrive, or was not read: no key to name
            return Headers()
        if isinstance(found, tuple):  # the raw lines of a head refused for its framing
            lines = (line.decode("latin-1").partition(":") for line in found)
            return Headers([(n.strip(), v.strip()) for n, sep, v in lines if sep])
        return Headers(list(found.items()))

    def _send_error_response_if_possible(self, error_code: int) -> None:
        # gevent's own (a body that turned out malformed, an app failure), in the error shape.
        if self.response_length:
            self.close_connection = True
            return
        message = "the request body is malformed" if error_code == 400 else "internal error"
        try:
            self.close_connection = True
            self._sendall(error_response(error_code, message, self.error_shape))
            self.headers_sent = True
        except OSError:
            pass

    # -- the body: one deadline from the end of the head --------------------------------------

    def get_environ(self) -> Any:
        env = super().get_environ()
        if self.body_timeout_s:
            env["wsgi.input"] = BodyDeadline(env["wsgi.input"], self.body_timeout_s, self)
        return env

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
