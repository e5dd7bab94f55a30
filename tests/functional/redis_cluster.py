"""A private three-node Redis Cluster on free loopback ports, in a temporary directory.

`redis-server --cluster-enabled yes` three times, then `redis-cli --cluster create ... --cluster-yes`
(three primaries, no replicas); removed afterwards. Never touches the shared Redis.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.functional.private_services import _wait_for_port


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port(taken: list[int]) -> int:
    """A free port whose cluster bus port (+10000) is free too, so both fit below 65536."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        if port not in taken and port + 10000 not in taken and _free(port) and _free(port + 10000):
            return port
    raise RuntimeError("no free pair of ports for a cluster node")


class PrivateRedisCluster:
    def __init__(self, nodes: int = 3) -> None:
        self.ports: list[int] = []
        for _ in range(nodes):
            self.ports.append(cluster_port(self.ports))
        self.directory = Path(tempfile.mkdtemp(prefix="bricks-cluster-"))
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def env(self) -> dict[str, str]:
        """The gateway's settings for this cluster: seed nodes and REDIS_CLUSTER."""
        return {"REDIS_HOSTS": ",".join(f"127.0.0.1:{p}" for p in self.ports),
                "REDIS_CLUSTER": "true"}  # fmt: skip

    def start(self) -> PrivateRedisCluster:
        for port in self.ports:
            node = self.directory / str(port)
            node.mkdir()
            self.processes.append(subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled",
                 "yes", "--cluster-config-file", str(node / "nodes.conf"), "--dir", str(node),
                 "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        for port in self.ports:
            _wait_for_port(port)
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        self._wait_until_ok()
        return self

    def _wait_until_ok(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = []
            for port in self.ports:
                info = redis.Redis(port=port, socket_timeout=2).cluster("INFO")
                states.append(info.get("cluster_state") == "ok")
            if all(states):
                return
            time.sleep(0.1)
        raise TimeoutError("the cluster did not reach cluster_state:ok")

    def remove(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PrivateRedisCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.remove()
