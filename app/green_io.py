"""Reads and writes on gevent sockets with the one system call each needs.

gevent's socket methods make an extra call on the proxy's two hottest paths:

- `sendall()` asks the kernel for the socket's send-buffer size (a `getsockopt`) on every call,
  to size its chunks, even for a few hundred bytes that one `send()` takes whole.
- `recv()` first tries the socket, and on a stream whose next event has not arrived yet, that try
  fails (EAGAIN) before gevent waits for the socket to become readable and reads again.

strace of a streaming worker: 4 system calls per relayed event with gevent's methods, 2 with these.
Both keep gevent's semantics: they wait through the hub and honour the socket's timeout.
"""

from __future__ import annotations

from typing import Any


def send_all(sock: Any, data: bytes | bytearray) -> None:
    """Send all of `data`: one `send()` when the kernel takes it whole (small writes almost always
    are), gevent's `sendall()` for whatever is left."""
    sent = sock.send(data)
    if sent < len(data):
        sock.sendall(memoryview(data)[sent:])


def recv_when_readable(sock: Any, size: int) -> bytes:
    """Wait until `sock` is readable, then read at most `size` bytes (b"" at its end).

    For a reader that has consumed everything received so far (a stream between two events), so
    that the first read rarely finds nothing. Raises `socket.timeout` after the socket's timeout.
    The wait is on the socket's own watcher, the one its `recv()` waits on, so a `close()` from
    another greenlet ends it as it would end a `recv()`.
    """
    sock._wait(sock._read_event)
    data: bytes = sock.recv(size)
    return data
