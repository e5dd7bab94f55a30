"""The proxy's client connections under GUNICORN_KEEPALIVE: an idle keep-alive connection, or a
client that never finishes its request, is closed after that many seconds; a slow upstream is not
a client wait, so a stream whose chunks are further apart still completes."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.functional.proxy_env import running_proxy

pytestmark = pytest.mark.slow
KEEPALIVE_S = 1
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(
        tmp_path_factory.mktemp("keepalive"), GUNICORN_KEEPALIVE=str(KEEPALIVE_S)
    ) as proxy:
        yield proxy


def _connect(env) -> socket.socket:
    url = urlsplit(env.gateway.proxy)
    return socket.create_connection((url.hostname, url.port), timeout=10)


def _seconds_until_closed(sock: socket.socket) -> float:
    started = time.monotonic()
    while sock.recv(65536):
        pass
    return time.monotonic() - started


def test_an_idle_keep_alive_connection_is_closed_after_keepalive(env):
    with _connect(env) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: gateway\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert KEEPALIVE_S - 0.5 < _seconds_until_closed(sock) < KEEPALIVE_S + 3


def test_a_request_that_never_ends_its_headers_is_dropped(env):
    with _connect(env) as sock:
        sock.sendall(
            b"POST /api/providers/openai/v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n"
        )
        assert _seconds_until_closed(sock) < KEEPALIVE_S + 3


def test_a_stream_slower_than_keepalive_between_chunks_completes(env):
    env.upstream.configure(chunk_count=2, chunk_delay_s=KEEPALIVE_S + 0.5)
    key = env.create_key()
    response = requests.post(f"{env.base_url}/chat/completions", json={**CHAT, "stream": True},
                             headers={"Authorization": f"Bearer {key}"}, timeout=30)  # fmt: skip
    assert response.status_code == 200
    assert response.text.rstrip().endswith("data: [DONE]")
    assert response.text.count('"content"') >= 2
