"""`python -m bench.paired --base REV`: this tree against another commit, in alternating rounds.

Single runs of `bench.run` swing about ±15% on a shared 2-core VM, more than most changes move the
gateway. Here both versions run side by side (each with 2 proxy workers, Redis and a PostgreSQL
database of its own, the same fake upstream) and take turns: a closed loop (wrk, 64 connections),
an open loop (200 req/s) or a burst of concurrent streams. Each round reports the gateway's CPU per
request (its gunicorn tree, from /proc) or its latency; read the medians.

    python -m bench.paired --base HEAD~1                   # closed loop, CPU per request
    python -m bench.paired --base 91fccbe --mode open      # latency at 200 req/s
    python -m bench.paired --base HEAD~3 --mode streams    # gateway CPU per 1,000 streams
    python -m bench.paired --base HEAD --base-env METRICS_ENABLED=false   # a setting's cost

The base version is checked out into a temporary git worktree and runs with this tree's venv.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import drivers, procs, web
from bench.scenarios import BENCH_KEY, ROOT, Context, child_env, create_bricks_key, fresh_database

FIRST_PORT = 9401


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-base-") as parent:
        path = Path(parent) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(path), rev], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        try:
            yield path
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, capture_output=True
            )


@contextlib.contextmanager
def gateway(
    index: int, root: Path, upstream_url: str, work: Path, settings: dict[str, str] | None = None
) -> Iterator[tuple[int, drivers.Target]]:
    """One version's admin and proxy servers, `settings` added to their environment; yields
    (proxy master pid, chat target)."""
    admin_port, proxy_port = FIRST_PORT + 10 * index, FIRST_PORT + 10 * index + 1
    database = f"bricks_paired_{index}"
    fresh_database(database)
    work.mkdir(parents=True, exist_ok=True)
    env = child_env(Context(upstream_url, 0, work), {
        "SQLITE_PATH": str(work / "bricks.db"), "EVENT_JOURNAL_DIR": str(work / "journal"),
        "ADMIN_PORT": str(admin_port), "PROXY_PORT": str(proxy_port), "ADMIN_PASS": "",
        "LOG_LEVEL": "WARNING", "REDIS_HOSTS": "127.0.0.1", "REDIS_PORT": "6379",
        "GUNICORN_WORKERS": "2", "POSTGRESQL_HOSTS": "127.0.0.1", "POSTGRESQL_USERNAME": "postgres",
        "POSTGRESQL_DB_NAME": database, **(settings or {}),
    })  # fmt: skip
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, cwd=root, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    servers = []
    try:
        for role, port in (("admin", admin_port), ("proxy", proxy_port)):
            command = [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(root / "gunicorn.conf.py"),
                "-b",
                f"127.0.0.1:{port}",
            ]
            log = open(work / f"{role}.log", "wb")  # noqa: SIM115 - closed with the process below
            servers.append((subprocess.Popen(command, env={**env, "BRICKS_ROLE": role}, cwd=root,
                                             stdout=log, stderr=subprocess.STDOUT), log))  # fmt: skip
            _wait_for(f"http://127.0.0.1:{port}/api/health")
        create_bricks_key(
            Context(upstream_url, 0, work, admin_port=admin_port, proxy_port=proxy_port)
        )
        url = f"http://127.0.0.1:{proxy_port}/api/providers/openai/v1/chat/completions"
        yield servers[1][0].pid, drivers.Target(url, {"Authorization": f"Bearer {BENCH_KEY}"})
    finally:
        for process, log in servers:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(20)
            log.close()


def _wait_for(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if web.request_json("GET", url)[0] == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s")


def one_round(
    mode: str, pid: int, target: drivers.Target, seconds: float, streams: int
) -> dict[str, Any]:
    before = procs.tree_cpu_seconds(pid)
    if mode == "open":
        latency = drivers.open_loop(target, 200, seconds, 1).get("latency_ms", {})
        return {"p50_ms": latency.get("p50"), "p99_ms": latency.get("p99")}
    if mode == "streams":
        result = drivers.streams(target, streams, 50, lambda: None)
        return {"cpu_s": round(procs.tree_cpu_seconds(pid) - before, 3), "complete": result.get("complete"),
                "total_s": result.get("total_s")}  # fmt: skip
    result = drivers.closed_loop(target, drivers.find_wrk(install=False), 64, seconds)
    cpu_ms = (procs.tree_cpu_seconds(pid) - before) / max(1, result["requests"]) * 1000
    return {
        "cpu_ms_per_request": round(cpu_ms, 3),
        "rps": result["rps"],
        "errors": result["error_count"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.paired", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--base", required=True, help="the commit to compare this tree with")
    parser.add_argument("--mode", choices=("closed", "open", "streams"), default="closed")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="length of a closed or open loop"
    )
    parser.add_argument("--streams", type=int, default=1000)
    for side in ("base", "this"):
        parser.add_argument(f"--{side}-env", action="append", default=[], metavar="NAME=VALUE",
                            help=f"a setting of the {side} gateway (repeatable)")  # fmt: skip
    opts = parser.parse_args(argv)
    base_env, this_env = (dict(item.split("=", 1) for item in items)
                          for items in (opts.base_env, opts.this_env))  # fmt: skip
    command = ["node", str(ROOT / "bench" / "fake_upstream.js"), "--port", "0", "--watch-stdin"]
    upstream = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert upstream.stdout is not None
    upstream_url = f"http://127.0.0.1:{json.loads(upstream.stdout.readline())['port']}"
    results: dict[str, list[dict[str, Any]]] = {"base": [], "this": []}
    try:
        with (
            worktree(opts.base) as base_root,
            tempfile.TemporaryDirectory(prefix="bench-paired-") as work,
            gateway(0, base_root, upstream_url, Path(work) / "base", base_env) as base,
            gateway(1, ROOT, upstream_url, Path(work) / "this", this_env) as this,
        ):
            versions = {"base": base, "this": this}
            for _, target in versions.values():
                drivers.closed_loop(target, drivers.find_wrk(install=False), 64, 3)  # warm-up
            for index in range(opts.rounds):
                for name, (pid, target) in versions.items():
                    outcome = one_round(opts.mode, pid, target, opts.seconds, opts.streams)
                    results[name].append(outcome)
                    print(f"round {index} {name}: {outcome}", flush=True)
    finally:
        upstream.terminate()
    for name, rounds in results.items():
        medians = (
            {key: statistics.median(r[key] for r in rounds) for key in rounds[0] if key != "errors"}
            if rounds
            else {}
        )
        label = opts.base if name == "base" else "this tree"
        settings = base_env if name == "base" else this_env
        print(f"{name} ({label}{f', {settings}' if settings else ''}): medians {medians}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
