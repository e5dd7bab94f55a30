"""`python -m bench.keys_scale` (`make bench-keys`): the proxy with a million keys in PostgreSQL.

Creates its own PostgreSQL database (`bricks_keys_bench`, dropped at the end unless `--keep`),
applies the migrations and seeds `--keys` keys in one `INSERT ... SELECT FROM generate_series`.
Then starts the gateway as in production (`python -m app.cli serve`: PostgreSQL, Redis, two proxy
workers) in front of the Node fake upstream and measures:

- start to healthy: from spawning the servers until both proxy workers have loaded their snapshot
  (their log line) and the proxy answers /api/health;
- resident memory of each proxy worker after the load, and after the runs;
- three open-loop runs of `--rate` req/s for `--duration` s (bench/load.js, latency from each
  request's scheduled start) on a seeded key: without admin writes, with a key created
  through the admin API every `--create-every` s, each used at once (a request on a new
  connection right after the 200): how many of those first requests were accepted, and what the
  writes added to the served requests' p99 and max latency; then without writes again, which shows
  how noisy the machine was.

Writes `bench/results/KEYS-SCALE.md` (and the raw numbers as JSON beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
import requests

from app.storage.migrate import migrate
from app.storage.postgres import PostgresDatabase
from bench import drivers
from bench.procs import CLOCK_TICKS, Managed, _stat, descendants, rss_bytes
from bench.run import child_env_plain
from bench.scenarios import port_taken

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "bricks_keys_bench"
SETTING_ID = "bench-setting"

SEED_KEYS = """
INSERT INTO keys (key_id, name, key, created_at, updated_at, tags, setting_ids,
                  rate_limit_over_time, rate_limit_unit)
SELECT 'bench-key-' || g, 'bench key ' || g, encode(sha256(('bench-secret-' || g)::bytea), 'hex'),
       %s, %s, '["bench"]', '["bench-setting"]',
       CASE WHEN g %% 10 = 0 THEN 1000000 END, CASE WHEN g %% 10 = 0 THEN 'm' END
FROM generate_series(1, %s) AS g
"""


@dataclass
class Options:
    keys: int
    duration_s: float
    rate: int
    create_every_s: float
    keep: bool
    out: Path
    pg_host: str
    pg_user: str


@dataclass
class WriterResult:
    created: int = 0
    first_ok: int = 0
    first_statuses: dict[str, int] = field(default_factory=dict)
    admin_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.keys_scale", description=__doc__)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--create-every", type=float, default=0.1)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "KEYS-SCALE.md")
    parser.add_argument("--pg-host", default=os.environ.get("TEST_POSTGRES_HOST", "127.0.0.1"))
    parser.add_argument("--pg-user", default=os.environ.get("TEST_POSTGRES_USER", "postgres"))
    a = parser.parse_args(argv)
    return Options(a.keys, a.duration, a.rate, a.create_every, a.keep, a.out, a.pg_host, a.pg_user)


# database ---------------------------------------------------------------------------------------


def _server(opts: Options) -> Any:
    conn = psycopg2.connect(host=opts.pg_host, user=opts.pg_user, dbname="postgres",
                            connect_timeout=5)  # fmt: skip
    conn.autocommit = True
    return conn


def create_and_seed(opts: Options, upstream_url: str) -> float:
    """A fresh database with the migrations, one provider setting and the keys; seconds spent."""
    started = time.monotonic()
    server = _server(opts)
    server.cursor().execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    server.cursor().execute(f"CREATE DATABASE {DB_NAME}")
    server.close()
    db = PostgresDatabase({"host": opts.pg_host, "user": opts.pg_user, "dbname": DB_NAME,
                           "connect_timeout": 5}, pool_size=1)  # fmt: skip
    try:
        migrate(db)
        with db.transaction() as cursor:
            cursor.execute(
                "INSERT INTO provider_settings (id, provider, name, created_at, updated_at, "
                "setting) VALUES (%s, 'openai', 'bench', %s, %s, %s)",
                (SETTING_ID, int(time.time()), int(time.time()),
                 json.dumps({"url": upstream_url, "apikey": "sk-bench"})),
            )  # fmt: skip
            now = int(time.time())
            cursor.execute(SEED_KEYS, (now, now, opts.keys))
            cursor.execute("UPDATE config_version SET version = version + 1 WHERE id = 1")
        db.execute("ANALYZE keys")
    finally:
        db.close()
    return time.monotonic() - started


def drop(opts: Options) -> None:
    server = _server(opts)
    server.cursor().execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    server.close()


# gateway ----------------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gateway(opts: Options, logs: Path) -> tuple[Managed, str, str, float]:
    admin_port, proxy_port = _free_port(), _free_port()
    assert not port_taken(admin_port) and not port_taken(proxy_port)
    env = {
        **child_env_plain(), "POSTGRESQL_HOSTS": opts.pg_host, "POSTGRESQL_USERNAME": opts.pg_user,
        "POSTGRESQL_DB_NAME": DB_NAME, "REDIS_HOSTS": "127.0.0.1", "GUNICORN_WORKERS": "2",
        "ADMIN_PORT": str(admin_port), "PROXY_PORT": str(proxy_port), "LOG_LEVEL": "info",
        "EVENT_JOURNAL_DIR": str(logs / "journal"),
    }  # fmt: skip
    proc = Managed("gateway", [sys.executable, "-m", "app.cli", "serve"], env, ROOT,
                   logs / "gateway.log")  # fmt: skip
    started = time.monotonic()
    proc.start()
    admin, proxy = f"http://127.0.0.1:{admin_port}", f"http://127.0.0.1:{proxy_port}"
    deadline = started + 300
    while time.monotonic() < deadline:
        loaded = len(re.findall(r"config snapshot loaded: (\d+) keys", proc.log.read_text()))
        if loaded >= 2 and _healthy(proxy) and _healthy(admin):
            return proc, admin, proxy, time.monotonic() - started
        if not proc.alive():
            break
        time.sleep(0.05)
    raise RuntimeError(f"the gateway did not become healthy:\n{proc.log_tail(40)}")


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/api/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def proxy_workers(serve_pid: int) -> list[int]:
    """The proxy gunicorn's workers: descendants of the serve process whose parent is the proxy
    master (BRICKS_ROLE=proxy)."""
    masters = [p for p in descendants(serve_pid) if _role(p) == "proxy"]
    workers = [p for m in masters for p in descendants(m)]
    return sorted(set(workers))


def _role(pid: int) -> str:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return ""
    for item in environ:
        if item.startswith(b"BRICKS_ROLE="):
            return item.split(b"=", 1)[1].decode()
    return ""


# the runs ---------------------------------------------------------------------------------------


def writer(admin: str, proxy: str, every_s: float, stop: threading.Event) -> WriterResult:
    """Every `every_s`: create a key through the admin API, then use it at once."""
    result = WriterResult()
    body = drivers.Target("").body()
    next_at = time.monotonic()
    while not stop.is_set():
        secret = f"bench-new-{uuid.uuid4().hex}"
        t0 = time.monotonic()
        response = requests.put(f"{admin}/api/key-management/keys", timeout=10, json={
            "name": "new", "key": secret, "settingIds": [SETTING_ID]})  # fmt: skip
        t1 = time.monotonic()
        result.admin_ms.append((t1 - t0) * 1000)
        if response.status_code == 200:
            result.created += 1
            first = requests.post(
                f"{proxy}/api/providers/openai/v1/chat/completions", data=body, timeout=10,
                headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json",
                         "Connection": "close"},
            )  # fmt: skip
            result.first_ms.append((time.monotonic() - t1) * 1000)
            status = str(first.status_code)
            result.first_statuses[status] = result.first_statuses.get(status, 0) + 1
            result.first_ok += first.status_code == 200
        next_at += every_s
        stop.wait(max(0.0, next_at - time.monotonic()))
    return result


def open_loop(proxy: str, opts: Options, secret: str) -> dict[str, Any]:
    target = drivers.Target(
        f"{proxy}/api/providers/openai/v1/chat/completions",
        headers={"Authorization": f"Bearer {secret}"},
    )
    return drivers.open_loop(target, opts.rate, opts.duration_s, warmup_s=2.0)


def run_with_writes(
    admin: str, proxy: str, opts: Options, secret: str
) -> tuple[dict, WriterResult]:
    stop = threading.Event()
    box: list[WriterResult] = []
    thread = threading.Thread(
        target=lambda: box.append(writer(admin, proxy, opts.create_every_s, stop)), daemon=True
    )
    time.sleep(0)
    thread.start()
    try:
        load = open_loop(proxy, opts, secret)
    finally:
        stop.set()
        thread.join(30)
    return load, box[0]


# report -----------------------------------------------------------------------------------------


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))]


def write_report(opts: Options, numbers: dict[str, Any]) -> None:
    base, writes, w = numbers["baseline"], numbers["with_writes"], numbers["writer"]
    added_p99 = writes["latency_ms"]["p99"] - base["latency_ms"]["p99"]
    lines = [
        "# Keys at scale (issue 12)",
        "",
        f"Run {numbers['when']} on {numbers['machine']} by `python -m bench.keys_scale "
        f"--keys {opts.keys} --duration {opts.duration_s:g} --rate {opts.rate} "
        f"--create-every {opts.create_every_s:g}`.",
        "PostgreSQL and Redis on this machine, `python -m app.cli serve` with two proxy workers, "
        "the Node fake upstream; the machine's 2 cores are shared with other work, so absolute "
        "latencies are noisy: compare the two runs, made one after the other.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| keys stored in PostgreSQL | {opts.keys:,} |",
        f"| seeding (generate_series) | {numbers['seed_s']:.1f} s |",
        f"| start to healthy (both workers loaded) | {numbers['start_s']:.1f} s |",
        f"| snapshot load per worker (its log) | {', '.join(f'{s:.1f} s' for s in numbers['load_s'])} |",
        f"| resident memory per proxy worker after start | {', '.join(f'{m:.0f} MB' for m in numbers['rss_start_mb'])} |",
        f"| resident memory per proxy worker after the runs | {', '.join(f'{m:.0f} MB' for m in numbers['rss_end_mb'])} |",
        f"| keys created during the run with writes | {w['created']} |",
        f"| of which accepted on their first request | {w['first_ok']} ({w['first_statuses']}) |",
        f"| first request of a new key: p50 / p99 / max | {w['first_p50']:.1f} / {w['first_p99']:.1f} / {w['first_max']:.1f} ms |",
        f"| admin create: p50 / p99 | {w['admin_p50']:.1f} / {w['admin_p99']:.1f} ms |",
        "",
        f"Served requests ({opts.rate} req/s open loop, latency from the scheduled start):",
        "",
        "| run | requests | errors | p50 | p99 | max | proxy workers' CPU per served request |",
        "|---|---|---|---|---|---|---|",
    ]
    runs = (("no admin writes", base), (f"a key created every {opts.create_every_s * 1000:.0f} ms",
            writes), ("no admin writes, again", numbers["baseline_after"]))  # fmt: skip
    for name, run in runs:
        lat = run["latency_ms"]
        cpu_ms = run["worker_cpu_s"] * 1000 / max(1, lat["count"])
        lines.append(f"| {name} | {lat['count']} | {sum(run.get('errors', {}).values())} | "
                     f"{lat['p50']:.2f} ms | {lat['p99']:.2f} ms | {lat['max']:.2f} ms | "
                     f"{cpu_ms:.2f} ms |")  # fmt: skip
    lines += [
        "",
        f"Added p99 with writes: {added_p99:+.2f} ms; max with writes: "
        f"{writes['latency_ms']['max']:.1f} ms (no admin writes: {base['latency_ms']['max']:.1f} ms).",
        "",
        "Read-through counts (each worker logs them at shutdown):",
        "",
        *[f"- `{line}`" for line in numbers["lookup_lines"]],
        "",
    ]
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text("\n".join(lines))
    opts.out.with_suffix(".json").write_text(json.dumps(numbers, indent=2, default=str))
    print("\n".join(lines))


def _cpu_s(pids: list[int]) -> float:
    """User+system CPU seconds of the proxy workers: what the gateway itself spent, whatever
    else the shared machine was doing."""
    fields = [_stat(p) for p in pids]
    return sum(int(f[11]) + int(f[12]) for f in fields if f) / CLOCK_TICKS


def _measured(pids: list[int], run: Any) -> dict[str, Any]:
    before = _cpu_s(pids)
    result: dict[str, Any] = run()
    result["worker_cpu_s"] = _cpu_s(pids) - before
    return result


def _mb(pids: list[int]) -> list[float]:
    return [rss_bytes(p) / 1e6 for p in pids]


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    logs = ROOT / "bench" / "results" / "raw" / "keys-scale"
    logs.mkdir(parents=True, exist_ok=True)
    from bench.run import fake_upstream

    upstream_opts = argparse.Namespace(chunks=5, chunk_delay_ms=0)
    numbers: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    with fake_upstream(upstream_opts, logs) as (_, upstream_url):  # type: ignore[arg-type]
        numbers["seed_s"] = create_and_seed(opts, upstream_url)
        proc, admin, proxy, numbers["start_s"] = start_gateway(opts, logs)
        try:
            text = proc.log.read_text()
            numbers["load_s"] = [float(s) for s in re.findall(
                r"config snapshot loaded: \d+ keys, \d+ users, \d+ provider settings in ([\d.]+) s",
                text)]  # fmt: skip
            workers = proxy_workers(proc.pid)
            numbers["workers"] = workers
            numbers["rss_start_mb"] = _mb(workers)
            secret = f"bench-secret-{opts.keys // 2 // 10 * 10 + 1}"  # a key without limits
            numbers["baseline"] = _measured(workers, lambda: open_loop(proxy, opts, secret))
            box: list[WriterResult] = []

            def with_writes() -> dict[str, Any]:
                load, written = run_with_writes(admin, proxy, opts, secret)
                box.append(written)
                return load

            numbers["with_writes"] = _measured(workers, with_writes)
            w = box[0]
            numbers["baseline_after"] = _measured(workers, lambda: open_loop(proxy, opts, secret))
            numbers["writer"] = {
                "created": w.created, "first_ok": w.first_ok, "first_statuses": w.first_statuses,
                "first_p50": _pct(w.first_ms, 50), "first_p99": _pct(w.first_ms, 99),
                "first_max": max(w.first_ms, default=float("nan")),
                "admin_p50": _pct(w.admin_ms, 50), "admin_p99": _pct(w.admin_ms, 99),
            }  # fmt: skip
            numbers["rss_end_mb"] = _mb(workers)
        finally:
            proc.stop()
        numbers["lookup_lines"] = re.findall(r"read-through lookups: [^\n]*", proc.log.read_text())
    if not opts.keep:
        drop(opts)
    write_report(opts, numbers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
