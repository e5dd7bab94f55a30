"""send_all and recv_when_readable: gevent's answers over real sockets, with fewer system calls."""

from __future__ import annotations

import socket

import gevent
import gevent.socket
import pytest

from app.green_io import recv_when_readable, send_all


@pytest.fixture
def pair():
    left, right = gevent.socket.socketpair()
    yield left, right
    left.close()
    right.close()


def _read_exactly(sock, size: int) -> bytes:
    received = bytearray()
    while len(received) < size:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return bytes(received)


def test_a_small_write_arrives_whole(pair):
    left, right = pair
    send_all(left, b"data: hello\n\n")
    assert _read_exactly(right, 13) == b"data: hello\n\n"


def test_a_write_larger_than_the_send_buffer_arrives_whole_and_in_order(pair):
    left, right = pair
    left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # the first send() takes a part only
    payload = bytes(range(256)) * 8192  # 2 MiB
    reader = gevent.spawn(_read_exactly, right, len(payload))
    send_all(left, bytearray(payload))
    assert reader.get(timeout=10) == payload


def test_a_write_to_a_closed_peer_raises(pair):
    left, right = pair
    right.close()
    with pytest.raises(OSError):
        for _ in range(100):  # the first write may still be accepted by the kernel
            send_all(left, b"x" * 65536)


def test_a_read_waits_for_data_that_arrives_later(pair):
    left, right = pair
    reader = gevent.spawn(recv_when_readable, right, 4096)
    gevent.sleep(0.05)
    assert not reader.ready()
    left.sendall(b"late")
    assert reader.get(timeout=2) == b"late"


def test_a_read_of_data_already_there_returns_it(pair):
    left, right = pair
    left.sendall(b"early")
    gevent.sleep(0.01)
    assert recv_when_readable(right, 4096) == b"early"


def test_a_read_at_the_end_of_the_stream_is_empty(pair):
    left, right = pair
    left.shutdown(socket.SHUT_WR)
    assert recv_when_readable(right, 4096) == b""


def test_a_read_gives_up_after_the_socket_timeout(pair):
    _, right = pair
    right.settimeout(0.1)
    with pytest.raises(socket.timeout):
        recv_when_readable(right, 4096)


def test_closing_the_socket_from_another_greenlet_ends_the_wait(pair):
    _, right = pair
    reader = gevent.spawn(recv_when_readable, right, 4096)
    gevent.sleep(0.05)
    right.close()
    with pytest.raises(OSError):
        reader.get(timeout=2)
