"""An upstream that gives no usable answer (closes without answering, resets, sends a malformed
status line): a JSON 502 in the provider's error shape and exactly one event, never HTML."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

import pytest
import requests

from tests.functional.proxy_env import running_proxy

pytestmark = pytest.mark.slow
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _close(conn: socket.socket) -> None:
    conn.close()


def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _garbage(conn: socket.socket) -> None:
    conn.sendall(b"NOT-HTTP garbage\r\n\r\n")
    conn.close()


BEHAVIOURS = {"closes": _close, "resets": _reset, "malformed status line": _garbage}


class Misbehaving:
    """A TCP server on loopback that reads a request head, then misbehaves as told."""

    def __init__(self, behave) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.behave = behave
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                conn.recv(65536)
            self.behave(conn)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("no-answer")) as proxy:
        yield proxy


@pytest.mark.parametrize("how", sorted(BEHAVIOURS))
def test_no_usable_answer_is_a_json_502_with_one_event(env, how):
    server = Misbehaving(BEHAVIOURS[how])
    try:
        setting = env.create_setting("openai", {"apikey": "sk", "url": server.url})
        key = env.create_key_on([setting])
        response = requests.post(f"{env.base_url}/chat/completions", json=CHAT, timeout=10,
                                 headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    finally:
        server.close()
    assert response.status_code == 502 and response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["message"].startswith("[BricksLLM] upstream unreachable")
    [event] = env.events(env.last_key["keyId"], 1)
    assert event.status == 502 and event.error.startswith("upstream unreachable")


def test_on_an_anthropic_path_the_502_is_in_anthropics_shape(env):
    server = Misbehaving(_close)
    try:
        setting = env.create_setting("anthropic", {"apikey": "sk", "url": server.url})
        key = env.create_key_on([setting])
        response = requests.post(
            f"{env.gateway.proxy}/api/providers/anthropic/v1/messages", timeout=10,
            json={"model": "claude-3-5-haiku-20241022", "max_tokens": 5, "messages": CHAT["messages"]},
            headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        )  # fmt: skip
    finally:
        server.close()
    body = response.json()
    assert response.status_code == 502 and body["type"] == "error"
    assert (
        body["error"]["type"] == "api_error" and "upstream unreachable" in body["error"]["message"]
    )
