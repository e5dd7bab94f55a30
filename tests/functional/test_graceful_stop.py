"""Stopping does not wait for idle keep-alive clients: a connection waiting for its next request
is closed at once (else gunicorn waits for it up to GUNICORN_GRACEFUL_TIMEOUT, 30 s)."""

from __future__ import annotations

import socket
import time

import pytest

from tests.functional.servers import Gateway

pytestmark = pytest.mark.slow


def _keep_alive_client(port: int) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    # A loopback Host: without ADMIN_PASS the admin API refuses any other (DNS rebinding).
    client.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n")
    answer = b""
    while b'"ok"' not in answer:
        answer += client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200")
    return client  # open, idle, waiting for nothing


def test_idle_keep_alive_connections_do_not_hold_the_stop(tmp_path):
    gateway = Gateway({"SQLITE_PATH": str(tmp_path / "bricks.db"), "ADMIN_PASS": ""}).start()
    idle = [_keep_alive_client(gateway.admin_port), _keep_alive_client(gateway.proxy_port)]
    started = time.monotonic()
    code, output = gateway.stop(timeout=40)
    took = time.monotonic() - started
    assert code == 0, output
    assert took < 10, f"stopping took {took:.1f}s:\n{output}"
    assert "graceful timeout" not in output.lower()
    # `make run`'s banner: where everything is, as links a terminal makes clickable.
    assert f"http://localhost:{gateway.admin_port}/api/docs" in output
    assert f"http://localhost:{gateway.proxy_port}/metrics" in output
    for client in idle:
        assert client.recv(4096) == b""  # the server closed it
        client.close()
