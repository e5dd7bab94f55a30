"""The upstream pool's connections: an origin's addresses are resolved once for many new
connections and vetted each time, and every connection sends without Nagle's delay."""

from __future__ import annotations

import gevent.socket
import pytest
from gevent.server import StreamServer

from app.errors import ProxyError
from app.proxy.upstream import UpstreamPool, UpstreamRequest, VettedResolution

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def _answer_and_close(sock, _address) -> None:
    sock.recv(65536)
    sock.sendall(ANSWER)
    sock.close()


@pytest.fixture
def server():
    """An upstream that closes every connection after one answer: each request connects anew."""
    listener = StreamServer(("127.0.0.1", 0), _answer_and_close)
    listener.start()
    yield f"http://127.0.0.1:{listener.server_port}"
    listener.stop()


def _get(pool: UpstreamPool, url: str) -> bytes:
    response = pool.send(UpstreamRequest("GET", url + "/v1/models", {}, b"", 5.0))
    body: bytes = response.read()
    response.release()
    return body


def test_new_connections_share_one_resolution(server, monkeypatch):
    calls = []
    original = gevent.socket.getaddrinfo
    monkeypatch.setattr(
        gevent.socket, "getaddrinfo", lambda *a, **k: calls.append(a) or original(*a, **k)
    )
    pool = UpstreamPool(2.0, 5.0)
    assert [_get(pool, server) for _ in range(5)] == [b"ok"] * 5
    assert len(calls) == 1
    pool.close()


def test_an_origin_that_comes_to_resolve_to_a_metadata_address_is_refused(server):
    pool = UpstreamPool(2.0, 5.0)
    assert _get(pool, server) == b"ok"
    client, _ = pool.client_for(server)
    port = int(server.rsplit(":", 1)[1])
    rebound = [(gevent.socket.AF_INET, gevent.socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]
    client._connection_pool._resolve = VettedResolution(lambda: rebound, "127.0.0.1", ttl_s=60)
    with pytest.raises(ProxyError) as refused:
        _get(pool, server)
    assert (
        refused.value.status == 502 and refused.value.message == "upstream address is not allowed"
    )
    pool.close()


def test_a_metadata_address_given_literally_is_refused_before_any_connection():
    pool = UpstreamPool(2.0, 5.0)
    with pytest.raises(ProxyError) as refused:
        _get(pool, "http://169.254.169.254:80")
    assert (
        refused.value.status == 502 and refused.value.message == "upstream address is not allowed"
    )
    pool.close()


def test_upstream_connections_send_without_nagle_delay(server):
    pool = UpstreamPool(2.0, 5.0)
    client, _ = pool.client_for(server)
    sock = client._connection_pool.get_socket()
    try:
        assert sock.getsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY) == 1
    finally:
        client._connection_pool.release_socket(sock)
    pool.close()
