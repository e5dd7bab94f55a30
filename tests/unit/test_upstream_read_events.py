"""read_events: the relay's reader of an upstream SSE body, over a real geventhttpclient response."""

from __future__ import annotations

import gevent
import gevent.socket
import pytest
from geventhttpclient.response import HTTPParseError, HTTPSocketResponse

from app.proxy.upstream import read_events

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
ONE = b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'
FINISH = b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n'
USAGE = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\n'
DONE = b"data: [DONE]\n\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@pytest.fixture
def upstream():
    """(the response as the relay gets it, a function writing raw bytes from the server side)."""
    server, client = gevent.socket.socketpair()
    server.sendall(HEAD)
    response = HTTPSocketResponse(client)
    yield response, server.sendall
    server.close()
    client.close()


def test_events_that_arrive_together_come_out_together_in_order(upstream):
    response, send = upstream
    send(_chunk(FINISH + USAGE + DONE))
    assert read_events(response) == [FINISH, USAGE, DONE]


def test_an_event_split_across_segments_waits_for_its_end_and_nothing_more(upstream):
    response, send = upstream
    send(_chunk(ONE[:10]))
    reader = gevent.spawn(read_events, response)
    gevent.sleep(0.05)
    assert not reader.ready()  # half an event is not handed over
    send(_chunk(ONE[10:] + FINISH[:5]))
    assert reader.get(timeout=2) == [ONE]  # the complete one at once; the partial one stays
    send(_chunk(FINISH[5:]))
    assert read_events(response) == [FINISH]


def test_the_end_of_the_body_is_an_empty_list(upstream):
    response, send = upstream
    send(_chunk(DONE) + b"0\r\n\r\n")
    assert read_events(response) == [DONE]
    assert read_events(response) == []


def test_an_upstream_that_hangs_up_mid_body_is_an_error_not_an_end():
    server, client = gevent.socket.socketpair()
    server.sendall(HEAD + _chunk(ONE + ONE[:10]))
    response = HTTPSocketResponse(client)
    assert read_events(response) == [ONE]
    server.close()
    with pytest.raises(HTTPParseError):
        read_events(response)
    client.close()


def test_events_ended_by_crlf_blank_lines_come_out_one_by_one_and_verbatim(upstream):
    # The SSE format allows CRLF line ends; the client gets the provider's bytes unchanged.
    response, send = upstream
    crlf_one, crlf_done = ONE.replace(b"\n", b"\r\n"), DONE.replace(b"\n", b"\r\n")
    send(_chunk(crlf_one))
    assert read_events(response) == [crlf_one]
    send(_chunk(crlf_done) + b"0\r\n\r\n")
    assert read_events(response) == [crlf_done]
    assert read_events(response) == []


def test_events_with_mixed_line_ends_are_cut_at_their_own_blank_line(upstream):
    response, send = upstream
    mixed = [b"event: a\r\ndata: 1\r\n\r\n", b"data: 2\n\n", b"data: 3\r\n\n", b": comment\n\r\n"]
    send(_chunk(b"".join(mixed)))
    assert read_events(response) == mixed
