"""`python -m bench.run`: the load and overhead benchmark (see bench/README.md).

Order of a run: start the fast fake upstream (Node) -> for each scenario (direct first, as the
baseline): prepare, start its processes, wait until they answer, set up (admin API), check one chat
completion and one stream -> warm up -> idle memory -> closed loop with CPU before/after -> open loop
-> the concurrent streams with memory sampled -> stop its processes. Then write
bench/results/REPORT.md and the raw JSON under bench/results/raw/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import drivers, procs, report, web
from bench.procs import Managed, running
from bench.scenarios import ROOT, SCENARIOS, Context, Scenario, child_env, port_taken

BENCH = ROOT / "bench"


@dataclass
class Options:
    only: list[str] | None
    duration_s: float
    warmup_s: float
    connections: int
    rate: int
    streams: int
    chunks: int
    chunk_delay_ms: int
    out: Path
    install: bool
    admin_port: int
    proxy_port: int
    peer_port: int


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--only", help="comma-separated scenario names (direct always runs as the baseline)")
    add("--list", action="store_true", help="list the scenarios and exit")
    add("--quick", action="store_true", help="3 s phases, 300 streams: check the harness")
    add("--duration", type=float, default=10.0, help="seconds of each closed/open loop (10)")
    add("--warmup", type=float, default=2.0, help="seconds of closed-loop warm-up (2)")
    add("--connections", type=int, default=64, help="closed-loop connections (64)")
    add("--rate", type=int, default=200, help="open-loop requests per second (200)")
    add("--streams", type=int, default=1000, help="concurrent streams (1000)")
    add("--chunks", type=int, default=50, help="content chunks per stream (50)")
    add("--chunk-delay-ms", type=int, default=10, help="ms between chunks (10)")
    add("--out", type=Path, default=BENCH / "results", help="report directory (bench/results)")
    add("--no-install", action="store_true", help="do not apt-get install wrk when missing")
    add("--admin-port", type=int, default=8001)
    add("--proxy-port", type=int, default=8002)
    add("--peer-port", type=int, default=8003)
    args = parser.parse_args(argv)
    if args.list:
        for scenario in SCENARIOS:
            print(f"{scenario.name:22} {scenario.description}")
        raise SystemExit(0)
    if args.quick:
        args.duration, args.warmup, args.streams = 3.0, 1.0, min(args.streams, 300)
    return Options(
        only=[n.strip() for n in args.only.split(",")] if args.only else None,
        duration_s=args.duration,
        warmup_s=args.warmup,
        connections=args.connections,
        rate=args.rate,
        streams=args.streams,
        chunks=args.chunks,
        chunk_delay_ms=args.chunk_delay_ms,
        out=args.out,
        install=not args.no_install,
        admin_port=args.admin_port,
        proxy_port=args.proxy_port,
        peer_port=args.peer_port,
    )


def selected(opts: Options) -> list[Scenario]:
    if opts.only is None:
        return list(SCENARIOS)
    unknown = set(opts.only) - {s.name for s in SCENARIOS}
    if unknown:
        raise SystemExit(f"unknown scenarios: {sorted(unknown)}; see --list")
    return [s for s in SCENARIOS if s.name == "direct" or s.name in opts.only]


def raise_fd_limit() -> None:
    """1,000 streams through a gateway need ~4,000 descriptors across the processes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# the fake upstream ------------------------------------------------------------------------------------


@contextlib.contextmanager
def fake_upstream(opts: Options, logs: Path) -> Iterator[tuple[Managed, str]]:
    cmd = ["node", str(BENCH / "fake_upstream.js"), "--port", "0", "--watch-stdin"]
    cmd += ["--chunks", str(opts.chunks), "--delay-ms", str(opts.chunk_delay_ms)]
    proc = Managed("fake-upstream", cmd, child_env_plain(), ROOT, logs / "fake-upstream.log")
    proc.start(stdout=subprocess.PIPE)
    try:
        assert proc.popen is not None and proc.popen.stdout is not None
        line = proc.popen.stdout.readline()
        if not line:
            raise RuntimeError(f"the fake upstream did not start:\n{proc.log_tail()}")
        yield proc, f"http://127.0.0.1:{json.loads(line)['port']}"
    finally:
        proc.stop()


def child_env_plain() -> dict[str, str]:
    return child_env(Context("", 0, ROOT), {})


def upstream_stats(url: str) -> Any:
    return web.request_json("GET", url + "/__stats")[1]


# one scenario -----------------------------------------------------------------------------------------


def run_scenario(
    scenario: Scenario, ctx: Context, opts: Options, up: Managed, wrk: str | None
) -> dict[str, Any]:
    result: dict[str, Any] = {"name": scenario.name, "description": scenario.description}
    reason = scenario.unavailable(ctx) if scenario.unavailable else None
    taken = [str(getattr(ctx, p)) for p in scenario.ports if port_taken(getattr(ctx, p))]
    if reason or taken:
        result.update(
            status="skipped", reason=reason or f"port(s) {', '.join(taken)} already in use"
        )
        print(f"[{scenario.name}] skipped: {result['reason']}", flush=True)
        return result
    print(f"[{scenario.name}] starting", flush=True)
    try:
        result.update(_run(scenario, ctx, opts, up, wrk))
        result["status"] = "ok"
    except Exception as exc:  # a failed scenario is reported, the others still run
        logs = (
            (opts.out / "raw" / "logs").relative_to(ROOT)
            if opts.out.is_relative_to(ROOT)
            else opts.out
        )
        hint = f"\n(logs: {logs}/{scenario.name}*.log)" if scenario.start_cmd else ""
        result.update(status="failed", error=f"{type(exc).__name__}: {exc}{hint}")
        print(f"[{scenario.name}] failed: {result['error']}", flush=True)
    return result


def _run(
    scenario: Scenario, ctx: Context, opts: Options, up: Managed, wrk: str | None
) -> dict[str, Any]:
    shutil.rmtree(ctx.work, ignore_errors=True)
    ctx.work.mkdir(parents=True)
    if scenario.prepare:
        scenario.prepare(ctx)
    logs = opts.out / "raw" / "logs"
    with contextlib.ExitStack() as stack:
        for companion in scenario.companions:
            proc = Managed(
                f"{scenario.name}-{companion.name}",
                [ctx.fill(c) for c in companion.cmd],
                child_env(ctx, companion.env),
                ROOT,
                logs / f"{scenario.name}-{companion.name}.log",
            )
            _wait_ready(stack.enter_context(running(proc)), companion.ready_url, ctx)
        server = None
        if scenario.start_cmd:
            proc = Managed(
                scenario.name,
                [ctx.fill(c) for c in scenario.start_cmd],
                child_env(ctx, scenario.env),
                ROOT,
                logs / f"{scenario.name}.log",
            )
            server = stack.enter_context(running(proc))
            _wait_ready(server, scenario.ready_url, ctx)
        if scenario.setup:
            scenario.setup(ctx)
        target = drivers.Target(
            ctx.fill(scenario.target_url_for_chat),
            {k: ctx.fill(v) for k, v in scenario.headers.items()},
        )
        smoke = smoke_test(target)
        print(f"[{scenario.name}] answers: {smoke}", flush=True)
        measured = measure(
            target, server.pid if server else None, up.pid, opts, wrk, ctx.upstream_url
        )
        if server is not None and not server.alive():
            raise RuntimeError(f"{scenario.name} died during the run:\n{server.log_tail()}")
        return {"smoke": smoke, **measured}


def _wait_ready(proc: Managed, url: str | None, ctx: Context) -> None:
    def check() -> bool:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.log_tail()}")
        return url is None or web.answers(ctx.fill(url))

    web.wait_until(check, 60, proc.name)


def smoke_test(target: drivers.Target) -> dict[str, Any]:
    """Wait (30 s at most) until a chat completion succeeds, then check one stream."""
    last: list[Any] = [None, b""]

    def answered() -> bool:
        last[:] = web.request("POST", target.url, json.loads(target.body()), headers=target.headers)
        return bool(last[0] == 200)

    try:
        web.wait_until(answered, 30, "a first chat completion", interval=0.5)
    except TimeoutError as exc:
        body = last[1].decode(errors="replace")[:500]
        raise RuntimeError(f"{exc}; last answer from {target.url}: {last[0]} {body}") from None
    stream = json.loads(target.body(stream=True))
    status, raw = web.request("POST", target.url, stream, headers=target.headers)
    return {
        "chat_status": last[0],
        "chat_usage": _usage_of(last[1]),
        "stream_status": status,
        "stream_done": raw.rstrip().endswith(b"data: [DONE]"),
        "stream_usage": b'"usage":{' in raw.replace(b" ", b""),
    }


def _usage_of(raw: bytes) -> Any:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body.get("usage") if isinstance(body, dict) else None


# measuring --------------------------------------------------------------------------------------------


def _mb(value: int) -> float:
    return round(value / 2**20, 1)


def _cpu_of(
    pid: int | None, work: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], float | None]:
    before = procs.tree_cpu_seconds(pid) if pid else 0.0
    result = work()
    return result, (procs.tree_cpu_seconds(pid) - before if pid else None)


def _per(cpu_s: float | None, count: int) -> float | None:
    return None if cpu_s is None or not count else round(cpu_s * 1000 / count, 4)


def _children_cpu_seconds() -> float:
    """CPU of this process's reaped children: the Node drivers, each reaped when it ends."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _streams_cpu(
    pid: int | None, split_before: tuple[float, float], upstream_s: float, driver_s: float
) -> dict[str, Any]:
    """Who burnt the shared cores during the streams: the gateway (user / system), the fake upstream
    and the Node driver. With all three CPU-bound, the total over 2 cores bounds the wall time."""
    out: dict[str, Any] = {"upstream": round(upstream_s, 2), "driver": round(driver_s, 2)}
    if pid:
        user, system = procs.tree_cpu_split(pid)
        out["gateway_user"] = round(user - split_before[0], 2)
        out["gateway_system"] = round(system - split_before[1], 2)
    return out


def measure(
    target: drivers.Target,
    pid: int | None,
    up_pid: int,
    opts: Options,
    wrk: str | None,
    up_url: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    drivers.closed_loop(target, wrk, opts.connections, opts.warmup_s)  # warm-up, not counted
    time.sleep(1)
    out["rss_idle_mb"] = _mb(procs.workers_rss_bytes(pid)) if pid else None
    up_before = procs.tree_cpu_seconds(up_pid)
    closed, cpu = _cpu_of(
        pid, lambda: drivers.closed_loop(target, wrk, opts.connections, opts.duration_s)
    )
    out["closed_loop"] = closed
    out["cpu_ms_per_req"] = _per(cpu, closed["requests"])
    out["upstream_cpu_ms_per_req"] = _per(
        procs.tree_cpu_seconds(up_pid) - up_before, closed["requests"]
    )
    print(
        f"  closed loop: {closed['rps']:,.0f} req/s, CPU/req {out['cpu_ms_per_req']} ms", flush=True
    )
    time.sleep(1)
    out["open_loop"] = drivers.open_loop(target, opts.rate, opts.duration_s, warmup_s=1.0)
    print(f"  open loop: {out['open_loop']['latency_ms']}", flush=True)
    time.sleep(1)
    sampler = procs.PeakSampler(lambda: procs.workers_rss_bytes(pid) if pid else 0)
    split_before = procs.tree_cpu_split(pid) if pid else (0.0, 0.0)
    up_before, driver_before = procs.tree_cpu_seconds(up_pid), _children_cpu_seconds()
    streams, cpu = _cpu_of(pid, lambda: drivers.streams(target, opts.streams, opts.chunks, sampler))
    out["streams"] = streams
    out["cpu_ms_per_stream"] = _per(cpu, streams.get("finished", 0))
    out["streams_cpu_s"] = _streams_cpu(
        pid, split_before, procs.tree_cpu_seconds(up_pid) - up_before,
        _children_cpu_seconds() - driver_before,
    )  # fmt: skip
    out["rss_streams_peak_mb"] = _mb(sampler.peak) if pid else None
    out["upstream_stats"] = upstream_stats(up_url)
    print(
        f"  streams: {streams['complete']}/{streams['streams']} complete, TTFT {streams['ttft_ms']}, "
        f"total {streams['total_s']} s",
        flush=True,
    )
    return out


# the run ----------------------------------------------------------------------------------------------


def _version(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return None
    return (
        (done.stdout or done.stderr).strip().splitlines()[0]
        if (done.stdout or done.stderr)
        else None
    )


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def describe(opts: Options, wrk: str | None) -> dict[str, Any]:
    options = asdict(opts)
    options["out"] = str(opts.out)
    return {
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": _version(["node", "--version"]),
        "wrk": (_version([wrk, "-v"]) or "wrk").split(" Copyright")[0] if wrk else None,
        "options": options,
    }


def write(opts: Options, meta: dict[str, Any], results: list[dict[str, Any]]) -> Path:
    raw_dir = opts.out / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    blob = json.dumps({"meta": meta, "results": results}, indent=2)
    (raw_dir / f"results-{stamp}.json").write_text(blob)
    (raw_dir / "latest.json").write_text(blob)
    path = opts.out / "REPORT.md"
    path.write_text(report.render(meta, results) + _analysis_of(path))
    return path


ANALYSIS_HEADING = "\n## Against the targets"


def _analysis_of(path: Path) -> str:
    """The hand-written analysis that follows the rendered part of an existing report: a new run
    replaces the table and details, not the verdicts and profiles written under them."""
    text = path.read_text() if path.exists() else ""
    start = text.find(ANALYSIS_HEADING)
    return "" if start < 0 else text[start:]


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if shutil.which("node") is None:
        print(
            "node is needed (the fake upstream and the drivers are Node scripts)", file=sys.stderr
        )
        return 2
    raise_fd_limit()
    wrk = drivers.find_wrk(opts.install)
    meta = describe(opts, wrk)
    results = []
    with fake_upstream(opts, opts.out / "raw" / "logs") as (up, up_url):
        print(f"fake upstream at {up_url}; wrk: {wrk or 'missing, Node fallback'}", flush=True)
        for scenario in selected(opts):
            ctx = Context(
                up_url,
                int(up_url.rsplit(":", 1)[1]),
                BENCH / ".work" / scenario.name,
                opts.admin_port,
                opts.proxy_port,
                opts.peer_port,
            )
            results.append(run_scenario(scenario, ctx, opts, up, wrk))
    path = write(opts, meta, results)
    print(f"report: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0 if all(r["status"] != "failed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
