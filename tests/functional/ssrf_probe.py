"""Run only inside the private network namespace of tests/functional/test_ssrf_namespace.py.

There, every cloud metadata address is bound to the namespace's own loopback with a listener on
port 80 that counts connections, names resolve to them through the namespace's /etc/hosts, and
the real gateway (gunicorn, embedded SQLite) is started. Prints one JSON object: what the admin
API answered to settings naming each address in each spelling, what the proxy answered to keys
whose setting names a host resolving to one, and how many connections each listener saw.

It refuses to run anywhere a metadata address is not one of this host's own (outside the
namespace, connecting could reach a real metadata service).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.functional.proxy_env import running_proxy
from tests.unit.test_upstream_urls import METADATA, spellings

# The names the namespace's /etc/hosts gives (written by the test), and the control host.
NAMES = {"aws.metadata.test": "169.254.169.254", "alibaba.metadata.test": "100.100.100.200",
         "oracle.metadata.test": "192.0.0.192", "ecs.metadata.test": "169.254.170.2",
         "aws6.metadata.test": "fd00:ec2::254"}  # fmt: skip
CONTROL = ("control.test", "10.77.0.1")
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


class Listener:
    """A TCP listener on port 80 of `address` that counts connections and answers `{}`."""

    def __init__(self, address: str) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, 80))
        self.sock.listen(64)
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")  # fmt: skip


def _own_address(address: str) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def listeners() -> Iterator[dict[str, Listener]]:
    found = {address: Listener(address) for address in [*METADATA, CONTROL[1]]}
    try:
        yield found
    finally:
        for listener in found.values():
            listener.sock.close()


def main() -> int:
    if not all(_own_address(address) for address in METADATA):
        print("refused: not inside the test's network namespace", file=sys.stderr)
        return 2
    report: dict[str, dict[str, int]] = {"admin": {}, "proxy": {}, "connections": {}}
    with (
        listeners() as found,
        tempfile.TemporaryDirectory() as directory,
        running_proxy(Path(directory)) as env,
    ):
        for address in METADATA:
            forms = spellings(address) if ":" not in address else [address, f"[{address}]"]
            for form in forms:
                host = f"[{form}]" if ":" in form and not form.startswith("[") else form
                answer = requests.put(f"{env.gateway.admin}/api/provider-settings", timeout=5,
                                      json={"provider": "openai", "setting": {
                                          "apikey": "sk", "url": f"http://{host}/v1"}})  # fmt: skip
                report["admin"][form] = answer.status_code
        for name in [*NAMES, CONTROL[0]]:
            setting = env.create_setting("openai", {"apikey": "sk", "url": f"http://{name}/v1"})
            key = env.create_key_on([setting])
            answer = requests.post(f"{env.base_url}/chat/completions", json=CHAT, timeout=10,
                                   headers={"Authorization": f"Bearer {key}"})  # fmt: skip
            report["proxy"][name] = answer.status_code
        report["connections"] = {address: found[address].connections for address in found}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
