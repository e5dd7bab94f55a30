"""The load drivers: wrk for closed-loop throughput, bench/load.js for the rest.

Each returns a plain dict (it goes into the raw JSON as it is). Every run is bounded: wrk by its
duration, load.js by its own deadline, and both by a subprocess timeout on top.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
PROMPT = "Write one short sentence that greets a benchmark."


@dataclass
class Target:
    """Where the chat completions go, and with which headers."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    model: str = "gpt-4o-mini"
    prompt: str = PROMPT

    def body(self, stream: bool = False) -> str:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": self.prompt}],
        }
        if stream:
            payload["stream"] = True
            payload["stream_options"] = {"include_usage": True}
        return json.dumps(payload)


def find_wrk(install: bool) -> str | None:
    """The wrk binary; installed from Debian's packages first if allowed and missing."""
    if shutil.which("wrk") or not install:
        return shutil.which("wrk")
    print("wrk is missing: apt-get install -y wrk", flush=True)
    attempts = (
        ["apt-get", "install", "-y", "wrk"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "wrk"],
    )
    for cmd in attempts:
        if shutil.which("wrk"):
            break
        subprocess.run(cmd, capture_output=True, timeout=300, check=False)
    return shutil.which("wrk")


def closed_loop(
    target: Target, wrk: str | None, connections: int, duration_s: float
) -> dict[str, Any]:
    """As many requests as `connections` keep-alive connections carry in `duration_s`."""
    if wrk is None:
        return _closed_loop_node(target, connections, duration_s)
    headers = "\n".join(f"{k}: {v}" for k, v in target.headers.items())
    env = {"BENCH_BODY": target.body(), "BENCH_HEADERS": headers, "PATH": "/usr/bin:/bin"}
    threads = min(2, connections)
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        "10s",
    ]
    cmd += ["-s", str(BENCH / "wrk_post.lua"), target.url]
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {done.stdout[-500:]} {done.stderr[-500:]}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = raw["duration_us"] / 1e6
    latency = {k: round(v / 1000, 3) for k, v in raw["latency_us"].items()}
    return {
        "driver": "wrk",
        "connections": connections,
        "requests": raw["requests"],
        "duration_s": round(seconds, 3),
        "rps": round(raw["requests"] / seconds, 1),
        "errors": raw["errors"],
        "error_count": sum(raw["errors"].values()),
        "latency_ms": latency,
    }


def _closed_loop_node(target: Target, connections: int, duration_s: float) -> dict[str, Any]:
    cfg = {"mode": "closed", "connections": connections, "duration_s": duration_s, "timeout_s": 10}
    result = run_node(target, cfg, duration_s + 60)
    result["driver"] = "node (fallback: may be the bottleneck)"
    result["error_count"] = sum(result["errors"].values())
    return result


def open_loop(target: Target, rate: int, duration_s: float, warmup_s: float) -> dict[str, Any]:
    """`rate` requests/s whatever the answers' pace; latency from each scheduled start."""
    cfg = {"mode": "open", "rate": rate, "duration_s": duration_s, "warmup_s": warmup_s}
    cfg["timeout_s"] = 10
    return run_node(target, cfg, duration_s + warmup_s + 60)


def streams(
    target: Target, count: int, expect_chunks: int, while_running: Callable[[], None]
) -> dict[str, Any]:
    """`count` concurrent streams; `while_running` is called every few ms until they are done."""
    cfg = {"mode": "streams", "streams": count, "expect_chunks": expect_chunks, "timeout_s": 60}
    return run_node(target, cfg, 120, stream=True, while_running=while_running)


def run_node(
    target: Target,
    cfg: dict[str, Any],
    timeout_s: float,
    stream: bool = False,
    while_running: Callable[[], None] | None = None,
) -> dict[str, Any]:
    cfg = {**cfg, "url": target.url, "headers": target.headers, "body": target.body(stream)}
    cmd = ["node", str(BENCH / "load.js"), json.dumps(cfg)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        if while_running is not None:
            while_running()
        time.sleep(0.01)
    if proc.poll() is None:
        proc.kill()
    out, err = proc.communicate(timeout=10)
    if not out.strip():
        raise RuntimeError(f"load.js {cfg['mode']} gave no result: {err[-800:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result
