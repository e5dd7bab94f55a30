"""A private Redis master, one replica and one sentinel on free loopback ports, in a temporary
directory; removed afterwards. Never touches the shared Redis.

One sentinel with quorum 1 is enough to fail over (it votes for itself), and the timings are the
shortest Redis accepts, so a failover takes a few seconds: `down-after-milliseconds` (1 s) before
the master is thought down, then up to a second of random delay before the sentinel starts the
failover, then the promotion of the replica, which the sentinel sees on its next INFO (every
second during a failover).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.functional.private_services import _wait_for_port
from tests.functional.servers import free_port

MASTER_NAME = "bricks-master"


def _until(condition, timeout: float, what: str):
    """Polls `condition` until it is truthy (returned) or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = condition()
        except redis.RedisError:
            found = None
        if found:
            return found
        time.sleep(0.1)
    raise TimeoutError(f"{what} after {timeout}s")


class PrivateRedisSentinel:
    def __init__(self, name: str = MASTER_NAME) -> None:
        self.name = name
        self.directory = Path(tempfile.mkdtemp(prefix="bricks-sentinel-"))
        ports: set[int] = set()
        while len(ports) < 3:
            ports.add(free_port())
        self.master_port, self.replica_port, self.sentinel_port = sorted(ports)
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def env(self) -> dict[str, str]:
        """The gateway's settings: the sentinel (host:port) and the master's name."""
        return {
            "REDIS_HOSTS": f"127.0.0.1:{self.sentinel_port}",
            "REDIS_SENTINEL_MASTER": self.name,
        }

    def start(self) -> PrivateRedisSentinel:
        self._server(self.master_port)
        self._server(self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        _until(lambda: self.node(self.replica_port).info("replication")["master_link_status"]
               == "up", 20, "the replica did not sync with the master")  # fmt: skip
        self._sentinel()
        # The sentinel learns of the replica from the master's INFO, then connects to it; it
        # promotes only a replica it is connected to and has an INFO of (else NOGOODSLAVE).
        _until(self._replica_known, 20, "the sentinel did not connect to the replica")
        return self

    def _server(self, port: int, *extra: str) -> None:
        node = self.directory / str(port)
        node.mkdir()
        self.processes[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node),
             "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_port(port)

    def _sentinel(self) -> None:
        # The sentinel rewrites its configuration file (the master it follows), so it is a file of
        # its own in the temporary directory.
        config = self.directory / "sentinel.conf"
        config.write_text(
            f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {self.directory}\n"
            f"sentinel monitor {self.name} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.name} 1000\n"
            f"sentinel failover-timeout {self.name} 3000\n"
        )
        self.processes[self.sentinel_port] = subprocess.Popen(
            ["redis-server", str(config), "--sentinel"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_port(self.sentinel_port)

    def _replica_known(self) -> bool:
        replicas = self.sentinel_client().sentinel_slaves(self.name)
        return any(r["flags"] == "slave" and r["master-link-status"] == "ok" for r in replicas)

    def sentinel_client(self) -> redis.Redis:
        return redis.Redis(port=self.sentinel_port, socket_timeout=2, decode_responses=True)

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2, decode_responses=True)

    def current_master_port(self) -> int:
        """The master's port in the sentinel's SENTINEL MASTERS, which redis-py's clients follow.
        (GET-MASTER-ADDR-BY-NAME names a promoted replica a little earlier, while the sentinel
        still reconfigures the other replicas; SENTINEL MASTERS switches once that is done.)"""
        return int(self.sentinel_client().sentinel_master(self.name)["port"])

    def kill_master(self) -> int:
        """SIGKILL the master (no goodbye to clients or sentinel); returns its port."""
        port = self.current_master_port()
        self.processes[port].send_signal(signal.SIGKILL)
        self.processes[port].wait(10)
        return port

    def wait_for_failover(self, old_port: int, timeout: float) -> int:
        """The new master's port, once the sentinel names another node and that node is master."""

        def promoted() -> int | None:
            port = self.current_master_port()
            if port != old_port and self.node(port).info("replication")["role"] == "master":
                return port
            return None

        return _until(promoted, timeout, "the sentinel did not promote the replica")

    def remove(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PrivateRedisSentinel:
        try:
            return self.start()
        except BaseException:
            self.remove()
            raise

    def __exit__(self, *exc: object) -> None:
        self.remove()
