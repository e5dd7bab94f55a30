"""A request the server refuses before the app sees it still reaches the app's `record_refusal`
(which publishes its event, app/proxy/refusals.py): with its method, path, headers (so its key)
and the status and message the client got. A connection that never sent a request line is not a
request and records nothing.

A real gevent WSGI server with the proxy worker's handler and a raw client socket.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import gevent.socket
import pytest
from gevent.pywsgi import WSGIServer

from app.serving import client_handler

CHAT = b'{"model":"gpt-4o-mini"}'


class RecordingApp:
    """A WSGI app that answers 200, and records each refusal the server reports."""

    def __init__(self) -> None:
        self.refusals: list[tuple[str, str, dict[str, str], int, str]] = []

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    def record_refusal(self, method: str, path: str, headers: Any, status: int, message: str):
        self.refusals.append((method, path, dict(headers), status, message))


class QuietLog:
    """What gunicorn's handler logs to (its access method) and gevent's (write), silenced."""

    def access(self, *args: Any) -> None:
        pass

    def write(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[int, RecordingApp]]:
    app = RecordingApp()
    handler = client_handler(5.0, head_timeout_s=0.5, body_timeout_s=0.5)
    server = WSGIServer(("127.0.0.1", 0), app, handler_class=handler, log=QuietLog())
    server.start()
    yield server.server_port, app
    server.stop(timeout=1)


def exchange(port: int, data: bytes, pause_s: float = 0.0) -> bytes:
    """Send `data` (then wait `pause_s` without closing), read until the server closes."""
    with gevent.socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        gevent.sleep(pause_s)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    return bytes(received)


def status_of(answer: bytes) -> int:
    return int(answer.split(None, 2)[1])


def post(target: bytes, *headers: bytes, body: bytes = CHAT) -> bytes:
    lines = [b"POST " + target + b" HTTP/1.1", b"Host: t", b"Authorization: Bearer gw-key",
             *headers]  # fmt: skip
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def test_a_framing_refusal_reports_the_request_with_its_headers(server):
    port, app = server
    answer = exchange(
        port, post(b"/v1/chat?x=1", b"Content-Length: 4", b"Transfer-Encoding: chunked")
    )
    assert status_of(answer) == 400
    [(method, path, headers, status, message)] = app.refusals
    assert (method, path, status) == ("POST", "/v1/chat", 400)
    assert headers["Authorization"] == "Bearer gw-key"
    assert message == json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["message"][12:]


def test_a_control_character_in_a_header_reports_the_other_headers(server):
    port, app = server
    assert (
        status_of(exchange(port, post(b"/v1/chat", b"X-A: a\x01b", b"Content-Length: 23"))) == 400
    )
    [(_, _, headers, status, message)] = app.refusals
    assert headers["Authorization"] == "Bearer gw-key" and status == 400
    assert "control character" in message


def test_a_control_character_in_the_path_reports_the_request_with_its_key(server):
    port, app = server
    assert status_of(exchange(port, post(b"/v1/chat%00", b"Content-Length: 23"))) == 400
    [(method, path, headers, status, _)] = app.refusals
    assert (method, path, status) == ("POST", "/v1/chat%00", 400)
    assert headers["Authorization"] == "Bearer gw-key"


def test_a_request_line_too_long_reports_its_method_and_a_bounded_path(server):
    port, app = server
    # Exactly gevent's 8192-byte limit, all of it read: the server's close is not a reset.
    answer = exchange(port, b"GET /" + b"a" * (8192 - 5))
    assert status_of(answer) == 414
    [(method, path, headers, status, _)] = app.refusals
    assert (method, status, headers) == ("GET", 414, {})
    assert path.startswith("/aaa") and len(path) == 4096


def test_a_head_past_its_deadline_reports_what_arrived(server):
    port, app = server
    answer = exchange(port, b"POST /v1/chat HTTP/1.1\r\nAuthorization: Bearer gw-key\r\n", 1.0)
    assert status_of(answer) == 408
    [(method, path, headers, status, _)] = app.refusals
    assert (method, path, headers, status) == ("POST", "/v1/chat", {}, 408)


def test_a_connection_without_a_whole_request_line_records_nothing(server):
    port, app = server
    assert status_of(exchange(port, b"POST /v1/ch", 1.0)) == 408
    assert app.refusals == []


def test_a_refusal_after_a_served_request_reports_its_own_request(server):
    port, app = server
    first = post(b"/v1/first", b"Content-Length: 23")
    second = b"GET /v1/second\x0bx HTTP/1.1\r\nHost: t\r\n\r\n"  # a malformed request line
    answer = exchange(port, first + second)
    assert answer.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 400" in answer
    [(method, path, headers, status, _)] = app.refusals
    assert (method, path, headers, status) == ("GET", "/v1/second", {}, 400)


def test_an_app_without_record_refusal_still_gets_json_refusals():
    def plain(environ, start_response):
        start_response("200 OK", [])
        return [b""]

    server = WSGIServer(("127.0.0.1", 0), plain, handler_class=client_handler(5.0), log=QuietLog())
    server.start()
    try:
        answer = exchange(server.server_port, post(b"/v1/chat%00", b"Content-Length: 23"))
    finally:
        server.stop(timeout=1)
    assert status_of(answer) == 400 and b'"error"' in answer
