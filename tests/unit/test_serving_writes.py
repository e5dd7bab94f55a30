"""The proxy worker's handler writes the same HTTP answers as gevent's, in fewer sends.

A real gevent WSGI server with the handler of `gunicorn.conf.py`'s worker, a raw client socket,
and a record of every send the handler makes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

import gevent
import gevent.socket
import pytest
from gevent.pywsgi import WSGIServer

from app.green_io import send_all
from app.serving import client_handler

App = Callable[[dict, Callable], Iterable[bytes]]


@pytest.fixture
def serve() -> Iterator[Callable[[App], tuple[int, list[bytes]]]]:
    """Starts a server for a WSGI app; gives its port and the list of the handler's sends."""
    servers: list[WSGIServer] = []

    def start(app: App) -> tuple[int, list[bytes]]:
        sends: list[bytes] = []

        def recording_send_all(sock, data) -> None:
            sends.append(bytes(data))
            send_all(sock, data)

        handler = type(
            "Recording", (client_handler(5.0),), {"send_all": staticmethod(recording_send_all)}
        )
        server = WSGIServer(("127.0.0.1", 0), app, handler_class=handler, log=None)
        server.start()
        servers.append(server)
        return server.server_port, sends

    yield start
    for server in servers:
        server.stop(timeout=1)


def _get(port: int) -> tuple[bytes, bytes]:
    """(head, body as received) of one GET on a connection the server closes afterwards."""
    with gevent.socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    return head, body


def _app(status: str, headers: list[tuple[str, str]], body: Iterable[bytes]) -> App:
    def app(environ, start_response):
        start_response(status, headers)
        return body

    return app


def test_a_whole_answer_leaves_in_one_send(serve):
    body = b'{"id":"chatcmpl-1","choices":[]}'
    port, sends = serve(_app("200 OK", [("Content-Type", "application/json"),
                                        ("Content-Length", str(len(body)))], [body]))  # fmt: skip
    head, received = _get(port)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Type: application/json" in head.split(b"\r\n")
    assert received == body
    assert len(sends) == 1 and sends[0].endswith(b"\r\n\r\n" + body)


def test_a_stream_sends_its_first_event_with_the_head_and_frames_every_chunk(serve):
    events = [b"data: one\n\n", b"data: two\n\n", b"data: [DONE]\n\n"]

    def stream():
        for event in events:
            yield event
            gevent.sleep(0.01)

    port, sends = serve(_app("200 OK", [("Content-Type", "text/event-stream")], stream()))
    head, received = _get(port)
    assert b"Transfer-Encoding: chunked" in head.split(b"\r\n")
    assert received == b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"
    assert sends[0].endswith(
        b"\r\n\r\nb\r\ndata: one\n\n\r\n"
    )  # the head and the first event together
    assert len(sends) == 4  # then one send per event, and the last chunk


def test_a_large_first_write_goes_after_the_head_unchanged(serve):
    body = bytes(range(256)) * 1024  # 256 KiB, beyond what is copied behind the head
    port, sends = serve(_app("200 OK", [("Content-Length", str(len(body)))], [body]))
    head, received = _get(port)
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert received == body
    assert sends[0].endswith(b"\r\n\r\n") and sends[1] == body


@pytest.mark.parametrize("status", ["204 No Content", "200 OK"])
def test_an_empty_answer_is_a_head_alone(serve, status):
    port, sends = serve(_app(status, [], []))
    head, received = _get(port)
    assert head.startswith(b"HTTP/1.1 " + status.encode())
    assert received == b""
    assert len(sends) == 1


def test_an_idle_client_is_disconnected_after_the_client_timeout():
    server = WSGIServer(
        ("127.0.0.1", 0), _app("200 OK", [], []), handler_class=client_handler(0.3), log=None
    )
    server.start()
    try:
        with gevent.socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as sock:
            started = time.monotonic()
            assert sock.recv(1) == b""  # closed by the server: it sent no request in time
            assert 0.2 < time.monotonic() - started < 3
    finally:
        server.stop(timeout=1)
