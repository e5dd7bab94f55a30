"""The private parts of gevent, geventhttpclient and the stdlib that `app/serving.py`,
`app/green_io.py` and `app/proxy/upstream.py` override or read. setup.cfg bounds gevent and
geventhttpclient to the majors these were written against; each test here names the code that
depends on one internal, so an upgrade that moves it fails here, loudly, before any request does."""

from __future__ import annotations

import http.client
import inspect

import gevent.pywsgi
import gevent.socket
from geventhttpclient import HTTPClient
from geventhttpclient.connectionpool import ConnectionPool
from geventhttpclient.response import HTTPSocketResponse
from gunicorn.workers.ggevent import PyWSGIHandler


def _params(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_serving_overrides_gevents_handler_methods_with_their_signatures():
    """serving.ClientHandler replaces `_sendall` and `_write_with_headers`, calls `_write`,
    `finalize_headers`, and reads `status`, `response_headers`, `response_use_chunked`."""
    handler = gevent.pywsgi.WSGIHandler
    assert issubclass(PyWSGIHandler, handler)
    assert _params(handler._sendall) == ["self", "data"]
    assert _params(handler._write_with_headers) == ["self", "data"]
    assert _params(handler._write)[:2] == ["self", "data"]
    assert callable(handler.finalize_headers)
    source = inspect.getsource(handler)
    for attribute in ("response_use_chunked", "response_headers", "headers_sent", "MessageClass"):
        assert attribute in source, attribute


def test_serving_replaces_the_header_parser_gevent_calls():
    """serving.parse_request_headers stands in for `MessageClass`, built from the stdlib reader."""
    assert callable(http.client._read_headers)  # type: ignore[attr-defined]
    assert callable(gevent.pywsgi.headers_factory)
    assert hasattr(gevent.pywsgi.OldMessage, "set_raw")
    assert "self.MessageClass(self.rfile" in inspect.getsource(gevent.pywsgi.WSGIHandler)


def test_green_io_waits_on_the_sockets_own_read_watcher():
    """green_io.recv_when_readable calls `sock._wait(sock._read_event)`."""
    sock = gevent.socket.socket()
    try:
        assert callable(sock._wait) and sock._read_event is not None
    finally:
        sock.close()


def test_upstream_tunes_the_connection_pools_hooks():
    """upstream._tune replaces `pool._resolve` and `pool._create_tcp_socket` on the instance that
    HTTPClient keeps as `_connection_pool`."""
    assert _params(ConnectionPool._resolve) == ["self"]
    assert _params(ConnectionPool._create_tcp_socket) == ["self", "family", "socktype", "protocol"]
    client = HTTPClient("127.0.0.1", 9, connection_timeout=1, network_timeout=1)
    try:
        assert isinstance(client._connection_pool, ConnectionPool)
        # UpstreamPool.connection_counts (metrics) reads the pool's size, semaphore and queue.
        pool = client._connection_pool
        assert pool.size - pool._semaphore.counter == 0 and pool._socket_queue.qsize() == 0
    finally:
        client.close()


def test_upstream_reads_sse_from_the_responses_parser_state():
    """upstream.read_events reads `_body_buffer`, `message_complete`, `_sock`, `block_size` and
    calls `feed()` of the response."""
    source = inspect.getsource(HTTPSocketResponse) + inspect.getsource(
        HTTPSocketResponse.__mro__[1]
    )
    for attribute in ("_body_buffer", "message_complete", "_sock", "block_size"):
        assert attribute in source, attribute
    assert callable(HTTPSocketResponse.feed)


def test_metrics_add_a_flush_to_a_histograms_own_buckets_and_sum():
    """metrics._add_observations writes prometheus-client's `_buckets` (one value per bound, +Inf
    last, not cumulative) and `_sum` in place of one `observe()` per request."""
    from prometheus_client import CollectorRegistry, Histogram

    from app.observability.metrics import _add_observations

    bounds = (0.1, 1.0)
    registry_a, registry_b = CollectorRegistry(), CollectorRegistry()
    observed = Histogram("h", "h", buckets=bounds, registry=registry_a)
    added = Histogram("h", "h", buckets=bounds, registry=registry_b)
    samples = [0.05, 0.1, 0.5, 1.0, 7.0, 7.0]
    for value in samples:
        observed.observe(value)
    _add_observations(added, [2, 2, 2], sum(samples))
    assert list(registry_a.collect())[0].samples[:5] == list(registry_b.collect())[0].samples[:5]


def test_sentinel_discovery_overrides_redis_pys_with_the_same_parts():
    """app/counters/sentinel.py `_Sentinel.discover_master` replaces redis-py's: it reads the
    `sentinels` list, calls `sentinel_masters()` and `check_master_state(state, name)`."""
    from redis.sentinel import Sentinel

    assert _params(Sentinel.discover_master)[:2] == ["self", "service_name"]
    assert _params(Sentinel.check_master_state) == ["self", "state", "service_name"]
    assert "self.sentinels" in inspect.getsource(Sentinel.__init__)
    assert callable(Sentinel([("127.0.0.1", 26379)]).sentinels[0].sentinel_masters)
