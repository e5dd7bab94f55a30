"""Runs the real thing for tests: `python -m app.cli serve` (both gunicorn servers) in a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
# Everything every gateway of this test run printed: conftest.py scans it for secrets at the end.
ALL_OUTPUT: list[bytes] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=0.5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up within {timeout}s")


class Gateway:
    """Both servers on free ports with the given environment; `stop()` sends Ctrl-C (SIGINT).

    Their output is read all along (a full pipe would block the servers' logging, and with it
    the whole gevent worker) and handed back by `stop()`.
    """

    def __init__(self, env: dict[str, str], command: tuple[str, ...] = ("serve",)) -> None:
        self.admin_port = free_port()
        self.proxy_port = free_port()
        self.env = {**os.environ, "ADMIN_PORT": str(self.admin_port),
                    "PROXY_PORT": str(self.proxy_port), **env}  # fmt: skip
        if "SQLITE_PATH" in env and "EVENT_JOURNAL_DIR" not in env:
            self.env["EVENT_JOURNAL_DIR"] = str(Path(env["SQLITE_PATH"]).parent / "journal")
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self._output: list[bytes] = []
        self._reader: threading.Thread | None = None

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def start(self) -> Gateway:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *self.command], cwd=ROOT, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        wait_until_up(f"{self.admin}/api/health")
        wait_until_up(f"{self.proxy}/api/health")
        return self

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> tuple[int, str]:
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(timeout=timeout)
        if self._reader is not None:
            self._reader.join(timeout)
        return self.process.returncode, self.output

    @property
    def output(self) -> str:
        """Everything both servers printed so far."""
        return b"".join(self._output).decode(errors="replace")

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self._output.append(line)
            ALL_OUTPUT.append(line)

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.stop()
