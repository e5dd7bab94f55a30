"""Hostile HTTP against a real gunicorn proxy: framing that could smuggle a request (RFC 9112),
control characters, methods and sizes it does not serve, requests that never finish arriving
(whole-request deadlines) and 200 trickling connections (slowloris). Every refusal is JSON in
the proxy's error shape; framing refusals close the connection."""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import statistics
import time
from collections.abc import Iterator

import pytest
import requests

from tests.functional.proxy_env import ProxyEnv, running_proxy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
CHAT = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
PATH = b"/api/providers/openai/v1/chat/completions"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[tuple[ProxyEnv, str]]:
    env_vars = {"REQUEST_HEAD_TIMEOUT": "1", "REQUEST_BODY_TIMEOUT": "1",
                "GUNICORN_WORKER_CONNECTIONS": "50"}  # fmt: skip
    with running_proxy(tmp_path_factory.mktemp("framing"), **env_vars) as env:
        yield env, env.create_key()


def port_of(env: ProxyEnv) -> int:
    return int(env.gateway.proxy.rsplit(":", 1)[1])


def exchange(port: int, data: bytes, timeout: float = 5.0) -> tuple[bytes, bool]:
    """Send `data`, read until the server closes; (what came back, whether it closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            return received, False
    return received, True


def split(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def request(key: str, *headers: bytes, body: bytes = CHAT, target: bytes = PATH) -> bytes:
    lines = [b"POST " + target + b" HTTP/1.1", b"Host: localhost",
             b"Authorization: Bearer " + key.encode(), *headers]  # fmt: skip
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def test_a_well_framed_request_still_passes(proxy):
    env, key = proxy
    answer, _ = exchange(port_of(env), request(key, b"Content-Length: %d" % len(CHAT),
                                               b"Connection: close"))  # fmt: skip
    assert split(answer)[0] == 200


@pytest.mark.parametrize(("name", "headers", "body"), [
    ("CL and TE", [b"Content-Length: %d" % len(CHAT), b"Transfer-Encoding: chunked"],
     b"%x\r\n%s\r\n0\r\n\r\n" % (len(CHAT), CHAT)),
    ("TE and CL", [b"Transfer-Encoding: chunked", b"Content-Length: 4"],
     b"%x\r\n%s\r\n0\r\n\r\n" % (len(CHAT), CHAT)),
    ("two lengths", [b"Content-Length: %d" % len(CHAT), b"Content-Length: 5"], CHAT),
    ("a list of lengths", [b"Content-Length: %d, 5" % len(CHAT)], CHAT),
    ("a signed length", [b"Content-Length: +%d" % len(CHAT)], CHAT),
    ("an unknown coding", [b"Transfer-Encoding: gzip, chunked"], b"0\r\n\r\n"),
    ("a folded header", [b"X-A: a", b" folded", b"Content-Length: %d" % len(CHAT)], CHAT),
    ("a control character", [b"X-A: a\x01b", b"Content-Length: %d" % len(CHAT)], CHAT),
    ("a NUL", [b"X-A: a\x00b", b"Content-Length: %d" % len(CHAT)], CHAT),
])  # fmt: skip
def test_framing_that_could_smuggle_is_a_400_and_the_connection_closes(proxy, name, headers,
                                                                        body):  # fmt: skip
    env, key = proxy
    before = len(env.upstream.requests)
    answer, closed = exchange(port_of(env), request(key, *headers, body=body))
    status, error = split(answer)
    assert (status, closed) == (400, True), name
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith("[BricksLLM] ")
    assert answer.count(b"HTTP/1.1") == 1  # nothing smuggled behind it was answered
    assert len(env.upstream.requests) == before


@pytest.mark.parametrize("target", [PATH + b"%0d%0aX-Injected:%20yes", PATH + b"%00",
                                    b"/api/providers/openai/v1/%7f"])  # fmt: skip
def test_a_path_with_a_control_character_is_a_json_400(proxy, target):
    env, key = proxy
    answer, _ = exchange(port_of(env), request(key, b"Content-Length: %d" % len(CHAT),
                                               target=target))  # fmt: skip
    status, error = split(answer)
    assert status == 400 and "control character" in error["error"]["message"]


def test_trace_and_a_101_mb_body_get_json_answers(proxy):
    env, key = proxy
    trace = requests.request("TRACE", f"{env.base_url}/chat/completions", timeout=5,
                             headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert trace.status_code == 405 and trace.json()["error"]["code"] == "405"
    big = requests.post(f"{env.base_url}/chat/completions", data=b"x" * (101 * 1024 * 1024),
                        headers={"Authorization": f"Bearer {key}"}, timeout=60)  # fmt: skip
    assert big.status_code == 413 and big.json()["error"]["code"] == "413"


def test_a_segment_that_is_not_utf8_is_forwarded_as_received(proxy):
    env, key = proxy
    target = b"/api/providers/openai/v1/files/file-%FF%C3%A9"
    answer, _ = exchange(port_of(env), b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\n"
                         b"Authorization: Bearer " + key.encode() + b"\r\nConnection: close\r\n\r\n")  # fmt: skip
    assert split(answer)[0] == 200
    assert env.upstream.requests[-1].path == "/v1/files/file-%FF%C3%A9"


def test_every_refusal_leaves_one_event_with_its_key(proxy):
    env, _ = proxy
    key = env.create_key()
    key_id = env.last_key["keyId"]
    length = b"Content-Length: %d" % len(CHAT)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(CHAT), CHAT)
    probes = [request(key, length, b"Transfer-Encoding: chunked", body=chunked),
              request(key, b"X-A: a\x01b", length), request(key, length, target=PATH + b"%00")]  # fmt: skip
    statuses = [split(exchange(port_of(env), probe)[0])[0] for probe in probes]
    trace = requests.request("TRACE", f"{env.base_url}/chat/completions", timeout=5,
                             headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert statuses + [trace.status_code] == [400, 400, 400, 405]
    events = env.events(key_id, expected=4)
    assert sorted((e.status, e.method, e.cost_micros) for e in events) == [
        (400, "POST", 0), (400, "POST", 0), (400, "POST", 0), (405, "TRACE", 0)]  # fmt: skip
    assert {e.path for e in events} == {PATH.decode(), PATH.decode() + "%00",
                                        "/api/providers/openai/v1/chat/completions"}  # fmt: skip
    assert all(e.error for e in events)


def test_a_head_that_trickles_past_its_deadline_is_a_408(proxy):
    env, _ = proxy
    with socket.create_connection(("127.0.0.1", port_of(env)), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(b"POST " + PATH + b" HTTP/1.1\r\n")
        answer = b""
        for _ in range(30):  # one header byte every 0.2 s: each wait is short, the whole is not
            time.sleep(0.2)
            try:
                sock.sendall(b"X")
            except OSError:
                break
        sock.settimeout(2)
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        took = time.monotonic() - started
    status, error = split(answer)
    assert status == 408 and "head" in error["error"]["message"]
    assert 0.9 < took < 4


def test_a_body_that_trickles_past_its_deadline_is_a_408(proxy):
    env, key = proxy
    with socket.create_connection(("127.0.0.1", port_of(env)), timeout=5) as sock:
        sock.sendall(request(key, b"Content-Length: 100000", body=b"{"))
        started = time.monotonic()
        answer = b""
        for _ in range(30):
            time.sleep(0.2)
            try:
                sock.sendall(b" ")
            except OSError:
                break
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
            sock.setblocking(True)
            if answer:
                break
        took = time.monotonic() - started
    status, error = split(answer)
    assert status == 408 and "body" in error["error"]["message"]
    assert took < 3


class Tricklers:
    """`count` connections that each send a request head one byte at a time, for ever; one that
    the server closes is opened again, as an attacker would."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.selector = selectors.DefaultSelector()
        self.reopened = 0
        for _ in range(count):
            self._open()

    def _open(self) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", self.port))
        self.selector.register(sock, selectors.EVENT_READ, data=b"GET /api/health HTTP/1.1\r\n")

    def tick(self) -> None:
        for key in list(self.selector.get_map().values()):
            sock = key.fileobj
            try:
                sock.send(b"X")  # type: ignore[union-attr]
                if sock.recv(1, socket.MSG_PEEK) == b"":  # type: ignore[union-attr]
                    raise ConnectionResetError
            except BlockingIOError:
                continue
            except OSError:
                self.selector.unregister(sock)
                sock.close()  # type: ignore[union-attr]
                self.reopened += 1
                self._open()

    def close(self) -> None:
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]


def test_200_trickling_connections_leave_the_proxy_answering_others(proxy):
    env, key = proxy
    tricklers = Tricklers(port_of(env), 200)
    latencies: list[float] = []
    statuses: list[int] = []
    try:
        until = time.monotonic() + 6
        while time.monotonic() < until:
            tricklers.tick()
            started = time.monotonic()
            with requests.Session() as session:  # a new connection each time
                answer = session.post(f"{env.base_url}/chat/completions", data=CHAT, timeout=5,
                                      headers={"Authorization": f"Bearer {key}"})  # fmt: skip
            latencies.append(time.monotonic() - started)
            statuses.append(answer.status_code)
            time.sleep(0.05)
    finally:
        tricklers.close()
    print(f"tricklers reopened {tricklers.reopened}; latency median "
          f"{statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms "
          f"over {len(latencies)} requests")  # fmt: skip
    assert set(statuses) == {200}
    assert tricklers.reopened > 100  # the server did shed them: the attack was real
    assert statistics.median(latencies) < 0.1
    assert sorted(latencies)[int(len(latencies) * 0.9)] < 0.1
