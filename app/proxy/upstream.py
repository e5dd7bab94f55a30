"""The one seam for upstream HTTP (the send stage calls it). Pooled keep-alive connections per origin
(geventhttpclient: about a third of the CPU of requests per call), explicit connect and read
timeouts, hop-by-hop and credential headers dropped, metadata addresses refused at connect time
(the addresses of an origin are resolved and vetted at most once a minute).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import gevent
from geventhttpclient import HTTPClient
from geventhttpclient.response import HTTPConnectionClosed

from app.domain.upstream_urls import is_forbidden_address
from app.errors import UpstreamError, UpstreamRefused, UpstreamTimeout, UpstreamUnreachable
from app.green_io import recv_when_readable

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "trailers", "transfer-encoding", "upgrade", "host", "content-length",
})  # fmt: skip
# Never forwarded: the client's credentials, gateway-only headers, and compression (the gateway
# reads usage from bodies, so it asks upstreams for identity encoding).
CLIENT_ONLY = frozenset({
    "authorization", "x-api-key", "api-key", "x-custom-event-id", "x-metadata",
    "x-request-timeout", "accept-encoding", "cookie",
})  # fmt: skip


@dataclass(frozen=True)
class UpstreamRequest:
    """The bytes of one upstream call; built by the send stage from the outgoing call."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    timeout_s: float


class UpstreamResponse(Protocol):
    """An upstream answer once its head arrived. Implemented over HTTP here; a cached answer or a
    test double is another implementation. Exactly one of `release` (the connection may be reused)
    or `abort` (it may not) ends it; both may be called again harmlessly."""

    status: int
    headers: list[tuple[str, str]]  # as the client gets them: hop-by-hop headers dropped

    @property
    def is_event_stream(self) -> bool: ...

    def read(self) -> bytes:
        """The whole body; `UpstreamUnreachable` when it cannot be read to its end."""
        ...

    def events(self) -> Iterator[list[bytes]]:
        """SSE events as they arrive, each verbatim with its blank line; the events of one
        batch arrived together. Ends with the body; `UpstreamUnreachable` when reading fails."""
        ...

    def release(self) -> None: ...

    def abort(self) -> None: ...


class Upstream(Protocol):
    """Where outgoing calls go: `UpstreamPool` over HTTP, or an in-process fake in the fast tests."""

    def send(self, request: UpstreamRequest) -> UpstreamResponse: ...

    def close(self) -> None: ...


def forward_headers(
    client_headers: Mapping[str, str], provider_headers: dict[str, str]
) -> dict[str, str]:
    """The client's headers minus hop-by-hop, credential and gateway-only ones, plus the provider's
    (a client header of the same name as a provider header, in any case, is dropped)."""
    dropped = {name.lower() for name in provider_headers} | _connection_listed(client_headers)
    headers = {
        name: value
        for name, value in client_headers.items()
        if (lower := name.lower()) not in HOP_BY_HOP
        and lower not in CLIENT_ONLY
        and lower not in dropped
    }
    headers.update(provider_headers)
    return headers


def response_headers(upstream_headers: Any) -> list[tuple[str, str]]:
    listed = _connection_listed(upstream_headers)
    return [
        (name, value)
        for name, value in upstream_headers.items()
        if (lower := name.lower()) not in HOP_BY_HOP
        and lower != "content-encoding"
        and lower not in listed
    ]


def _connection_listed(headers: Any) -> set[str]:
    """The header names a `Connection` header lists: they concern this hop alone (RFC 9110 7.6.1)."""
    value = headers.get("Connection") or ""
    if isinstance(value, list):  # the header repeated (geventhttpclient gives the values)
        value = ",".join(value)
    return {token.strip().lower() for token in value.split(",") if token.strip()}


class UpstreamPool:
    """One pooled client per origin, created on first use. `concurrency` is the most connections
    open to one origin at once; a request beyond it waits for a free one (its timeout running), so
    it should be as large as the connections a worker accepts: each holds one upstream call."""

    def __init__(
        self, connect_timeout_s: float, read_timeout_s: float, concurrency: int = 2000
    ) -> None:
        self._connect_timeout = connect_timeout_s
        self._read_timeout = read_timeout_s
        self._concurrency = concurrency
        self._clients: dict[tuple[str, str, int], HTTPClient] = {}
        self._lock = threading.Lock()

    def client_for(self, url: str) -> tuple[HTTPClient, str]:
        parts = urlsplit(url)
        host, scheme = parts.hostname or "", parts.scheme
        port = parts.port or (443 if scheme == "https" else 80)
        origin = (scheme, host, port)
        client = self._clients.get(origin)
        if client is None:
            with self._lock:
                client = self._clients.get(origin) or self._new_client(scheme, host, port)
                self._clients[origin] = client
        path = parts.path or "/"
        return client, path + (f"?{parts.query}" if parts.query else "")

    def _new_client(self, scheme: str, host: str, port: int) -> HTTPClient:
        client = HTTPClient(
            host, port, ssl=scheme == "https", concurrency=self._concurrency,
            connection_timeout=self._connect_timeout, network_timeout=self._read_timeout,
        )  # fmt: skip
        _tune(client._connection_pool, host)
        return client

    def send(self, request: UpstreamRequest) -> UpstreamResponse:
        """Send and return the response once its head arrived; the body is read by the relay."""
        client, uri = self.client_for(request.url)
        try:
            with gevent.Timeout(request.timeout_s, TimeoutError):
                answer = client.request(
                    request.method, uri, body=request.body, headers=dict(request.headers)
                )
        except TimeoutError as exc:
            raise UpstreamTimeout() from exc
        except UpstreamError:
            raise  # the resolver's own answer (refused address, unknown host)
        except (Exception, gevent.GreenletExit) as exc:
            # Refused, reset, or closed before a status line; a malformed head (parser errors).
            raise UpstreamUnreachable(f"upstream unreachable: {type(exc).__name__}") from exc
        return HttpUpstreamResponse(answer)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def _tune(pool: Any, host: str) -> None:
    """HTTPClient builds its pool itself, so two of the pool's hooks are replaced on the instance
    (geventhttpclient 2.x; tests/unit/test_upstream_resolution.py holds it to that): addresses
    resolved and vetted once a minute, and TCP_NODELAY on every connection. Without it, the tail
    of a request body longer than one segment waited for the first segments' acknowledgement
    (Nagle), a round trip more to every large prompt on a real network; urllib3 sets it too."""
    pool._resolve = VettedResolution(pool._resolve, host)
    create_tcp_socket = pool._create_tcp_socket

    def create_without_delay(family: int, socktype: int, protocol: int) -> Any:
        sock = create_tcp_socket(family, socktype, protocol)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    pool._create_tcp_socket = create_without_delay


class VettedResolution:
    """An origin's addresses for its new connections: resolved at most every `ttl_s`, and refused
    (502) when one is a metadata or link-local address, or when the host does not resolve.

    The one place upstream addresses are checked: on the addresses actually connected to, so a
    DNS answer that changes to a metadata address cannot reach it either. geventhttpclient
    resolved on every new connection, through gevent's thread pool: with a thousand streams
    opening at once that was a thread hand-off each, about 4% of the worker's CPU.
    """

    def __init__(self, resolve: Callable[[], list[Any]], host: str, ttl_s: float = 60.0) -> None:
        self._resolve = resolve
        self._host = host
        self._ttl_s = ttl_s
        self._infos: list[Any] = []
        self._expires = 0.0

    def __call__(self) -> list[Any]:
        now = time.monotonic()
        if now >= self._expires:
            try:
                infos = self._resolve()
            except OSError as exc:
                raise UpstreamUnreachable(
                    f"upstream host cannot be resolved: {self._host}"
                ) from exc
            if any(is_forbidden_address(str(info[4][0])) for info in infos):
                raise UpstreamRefused("upstream address is not allowed")
            self._infos, self._expires = infos, now + self._ttl_s
        return self._infos


class HttpUpstreamResponse:
    """`UpstreamResponse` over a geventhttpclient response: the only code that touches one."""

    __slots__ = ("_response", "status", "headers")

    def __init__(self, response: Any) -> None:
        self._response = response
        self.status: int = response.status_code
        self.headers = response_headers(response)

    @property
    def is_event_stream(self) -> bool:
        return "text/event-stream" in (self._response.get("content-type") or "")

    def read(self) -> bytes:
        try:
            body: bytes = self._response.read()
        except Exception as exc:  # socket, parser or closed-connection errors of the client library
            self.abort()
            raise UpstreamUnreachable(f"upstream read failed: {type(exc).__name__}") from exc
        self._response.release()
        return body

    def events(self) -> Iterator[list[bytes]]:
        response = self._response
        while True:
            try:
                batch = read_events(response)
            except Exception as exc:  # any read failure (socket, parser, closed connection)
                raise UpstreamUnreachable(f"upstream stream failed: {type(exc).__name__}") from exc
            if not batch:
                return
            yield batch

    def release(self) -> None:
        self._response.release()

    def abort(self) -> None:
        """Close the connection without returning it to the pool."""
        sock = getattr(self._response, "_sock", None)
        if sock is not None:
            sock.close()
        self._response.release()


def read_events(response: Any) -> list[bytes]:
    """Every complete SSE event received so far, waiting for the first if none is; [] once the
    body ended. An event ends at a blank line (SSE lines end in LF or CRLF; each event is handed
    over verbatim), and all of them at once: events that arrived together (a finish chunk, usage
    and [DONE]) can then go to the client in one write."""
    buffer = response._body_buffer  # the parser's decoded body, which readline() reads too
    while True:
        end = _event_end(buffer, 0)
        if end >= 0:
            events = []
            start = 0
            while end >= 0:
                events.append(bytes(buffer[start:end]))
                start = end
                end = _event_end(buffer, start)
            del buffer[:start]
            return events
        if response.message_complete:
            return []
        sock = response._sock
        if sock is None:
            raise HTTPConnectionClosed("connection closed.")
        try:
            # Everything received so far is consumed: the next event is rarely there already.
            response.feed(recv_when_readable(sock, response.block_size))
        except BaseException:
            response.release()
            raise


def _event_end(buffer: bytearray, start: int) -> int:
    """Where the first event at or after `start` ends (after its blank line), or -1."""
    lf = buffer.find(b"\n\n", start)
    crlf = buffer.find(b"\n\r\n", start, lf + 3 if lf >= 0 else len(buffer))
    if crlf >= 0:
        return crlf + 3
    return lf + 2 if lf >= 0 else -1
