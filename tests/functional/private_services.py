"""Private PostgreSQL and Redis servers a test may stop, kill or freeze without touching the shared ones.

Each runs on a free port in a temporary directory of its own and is removed afterwards. PostgreSQL
runs as the `postgres` user (initdb refuses root), so its directory is owned by that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from tests.functional.servers import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (trust auth, database `postgres`) on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="bricks-pg-"))
        self.data = self.directory / "data"
        self._user = pwd.getpwnam("postgres")

    @property
    def env(self) -> dict[str, str]:
        """The POSTGRESQL_* settings that point the gateway at this cluster."""
        return {"POSTGRESQL_HOSTS": "127.0.0.1", "POSTGRESQL_PORT": str(self.port),
                "POSTGRESQL_DB_NAME": "postgres", "POSTGRESQL_USERNAME": "postgres"}  # fmt: skip

    @property
    def dsn(self) -> dict[str, object]:
        return {"host": "127.0.0.1", "port": self.port, "user": "postgres", "dbname": "postgres",
                "connect_timeout": 3}  # fmt: skip

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)  # fmt: skip

    def start(self) -> PrivatePostgres:
        if not self.data.exists():
            os.chown(self.directory, self._user.pw_uid, self._user.pw_gid)
            self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust",
                              "--no-sync", "-E", "UTF8")  # fmt: skip
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                          str(self.directory / "server.log"), "-o",
                          f"-p {self.port} -k {self.directory} -c fsync=off", "start")  # fmt: skip
        _wait_for_port(self.port)
        return self

    def stop(self) -> None:
        """A fast shutdown: open sessions are cut, as when a managed database fails over."""
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop")

    def _pids(self) -> list[int]:
        """The postmaster and its children (backends, background workers)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        return [postmaster, *map(int, children)]

    def freeze(self) -> None:
        """SIGSTOP every process of the cluster: connections stay open, nothing is answered."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._pids():
            os.kill(pid, signal.SIGCONT)

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.thaw()
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.remove()


class PrivateRedis:
    """A `redis-server` without persistence on a free port; kill, freeze and restart it at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"REDIS_HOSTS": "127.0.0.1", "REDIS_PORT": str(self.port)}

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_port(self.port)
        return self

    def kill(self) -> None:
        """SIGKILL: the server is gone, connections are reset and new ones refused."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def freeze(self) -> None:
        """SIGSTOP: the server hangs; connections open but nothing is ever answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def remove(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.kill()

    def __enter__(self) -> PrivateRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.remove()


class DelayingProxy:
    """A TCP relay to 127.0.0.1:`target_port` that holds back, by `delay_s`, every chunk a client
    sends that contains `marker` (a Redis script's SHA, say); everything else passes at once."""

    def __init__(self, target_port: int, marker: bytes, delay_s: float) -> None:
        self.port = free_port()
        self._target_port, self._marker, self._delay_s = target_port, marker, delay_s
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self._target_port), timeout=10)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if from_client and self._marker in chunk:
                    time.sleep(self._delay_s)
                sink.sendall(chunk)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def __enter__(self) -> DelayingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
