"""Turn the raw results of one run into bench/results/REPORT.md (markdown, ratios against direct)."""

from __future__ import annotations

from typing import Any

HOW_TO_READ = """\
## How to read it

- Everything shares the same cores: the load drivers, the fake upstream and the gateway. Compare a
  gateway with `direct` *in the same run* (the ratio and "added" columns) and look at CPU per request;
  absolute requests/s move with the machine.
- **req/s at N conns**: closed loop (wrk, or the Node fallback) -- each connection sends its next
  request when the previous answer ends. "vs direct" is the fraction of the direct throughput.
- **CPU per req**: user+system CPU of the server's process tree (gunicorn master and workers) during
  the closed-loop run, divided by the requests it served. "upstream" in the details is the fake's.
- **latency at R req/s**: open loop -- requests start on a fixed schedule whatever the answers do;
  latency counts from the scheduled start, so queueing in the server shows up. "added" is the gateway's
  percentile minus direct's.
- **streams**: all started at once, each 1 role chunk + N content chunks apart + usage + [DONE];
  "complete" means status 200, every content chunk and [DONE] arrived. TTFT is the time to the first
  content chunk; total time runs from the first start to the last end.
- **memory**: resident memory of the workers (the server itself when it has no children), idle after
  warm-up, and the peak sampled every 50 ms during the streams.
"""


def _num(value: Any, digits: int = 0, unit: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{unit}"


def _pair(a: Any, b: Any, digits: int = 1, unit: str = "") -> str:
    if a is None or b is None:
        return "—"
    return f"{a:.{digits}f} / {b:.{digits}f}{unit}"


def _get(data: dict[str, Any] | None, *path: str) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _ratio(value: Any, base: Any) -> str:
    if not value or not base:
        return "—"
    return f"{value / base:.2f}×"


def _added(result: dict[str, Any], direct: dict[str, Any] | None, pct: str) -> float | None:
    mine = _get(result, "open_loop", "latency_ms", pct)
    base = _get(direct, "open_loop", "latency_ms", pct)
    return None if mine is None or base is None else mine - base


def _memory(result: dict[str, Any]) -> str:
    idle, peak = result.get("rss_idle_mb"), result.get("rss_streams_peak_mb")
    if idle is None:
        return "—"
    return f"{idle:.0f} → {peak:.0f} MB"


def _streams_cpu(cpu: dict[str, Any] | None) -> str:
    if not cpu:
        return "—"
    parts = []
    if "gateway_user" in cpu:
        gateway = cpu["gateway_user"] + cpu["gateway_system"]
        parts.append(
            f"gateway {gateway:.2f} s (user {cpu['gateway_user']:.2f}, system {cpu['gateway_system']:.2f})"
        )
    parts += [f"fake upstream {cpu['upstream']:.2f} s", f"driver {cpu['driver']:.2f} s"]
    return ", ".join(parts)


def _row(result: dict[str, Any], direct: dict[str, Any] | None) -> str:
    streams = result.get("streams") or {}
    cells = [
        f"`{result['name']}`",
        _num(_get(result, "closed_loop", "rps")),
        _ratio(_get(result, "closed_loop", "rps"), _get(direct, "closed_loop", "rps")),
        _num(result.get("cpu_ms_per_req"), 3, " ms"),
        _pair(
            _get(result, "open_loop", "latency_ms", "p50"),
            _get(result, "open_loop", "latency_ms", "p99"),
            2,
            " ms",
        ),
        _pair(_added(result, direct, "p50"), _added(result, direct, "p99"), 2, " ms"),
        f"{streams.get('complete', '—')} / {streams.get('streams', '—')}",
        _pair(_get(streams, "ttft_ms", "p50"), _get(streams, "ttft_ms", "p99"), 0, " ms"),
        _num(streams.get("total_s"), 2, " s"),
        _memory(result),
    ]
    return "| " + " | ".join(cells) + " |"


def _header(opts: dict[str, Any]) -> list[str]:
    return [
        f"| scenario | req/s at {opts['connections']} conns | vs direct | CPU per req "
        f"| latency at {opts['rate']} req/s p50 / p99 | added vs direct p50 / p99 "
        f"| {opts['streams']:,} streams complete | TTFT p50 / p99 | streams total time "
        "| memory idle → streams |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]


def _details(result: dict[str, Any]) -> list[str]:
    lines = [f"### `{result['name']}` — {result['status']}", "", result["description"], ""]
    if result["status"] != "ok":
        lines += ["```", str(result.get("reason") or result.get("error")), "```", ""]
        return lines
    closed, open_, streams = result["closed_loop"], result["open_loop"], result["streams"]
    lines += [
        f"- closed loop ({closed['driver']}): {closed['requests']:,} requests in "
        f"{closed['duration_s']} s, errors {closed['error_count']}, latency p50 / p99 "
        f"{_pair(closed['latency_ms'].get('p50'), closed['latency_ms'].get('p99'), 2, ' ms')}",
        f"- open loop: {open_['ok']:,} of {open_['sent']:,} answered 2xx, errors {open_['errors'] or 0}, "
        f"max {_num(_get(open_, 'latency_ms', 'max'), 2, ' ms')}",
        f"- streams: {streams['complete']:,} complete of {streams['streams']:,}, "
        f"{streams['with_usage']:,} with usage, errors {streams['errors'] or 0}",
        f"- CPU per stream: {_num(result.get('cpu_ms_per_stream'), 2, ' ms')}; fake upstream CPU per "
        f"request {_num(result.get('upstream_cpu_ms_per_req'), 3, ' ms')}",
        f"- CPU during the streams: {_streams_cpu(result.get('streams_cpu_s'))}",
        f"- fake upstream counters after the run: {result.get('upstream_stats')}",
        "",
    ]
    return lines


def render(meta: dict[str, Any], results: list[dict[str, Any]]) -> str:
    opts = meta["options"]
    direct = next((r for r in results if r["name"] == "direct" and r["status"] == "ok"), None)
    lines = [
        "# Gateway benchmark",
        "",
        f"Run {meta['started']} on {meta['cpus']} cores ({meta['cpu_model']}), Linux "
        f"{meta['kernel']}; Python {meta['python']}, Node {meta['node']}, {meta['wrk'] or 'no wrk'}.",
        f"Fake upstream: bench/fake_upstream.js; streams of {opts['chunks']} chunks "
        f"{opts['chunk_delay_ms']} ms apart. Closed loop {opts['duration_s']} s after "
        f"{opts['warmup_s']} s of warm-up; open loop {opts['duration_s']} s at {opts['rate']} req/s.",
        "",
        *_header(opts),
        *(_row(r, direct) for r in results if r["status"] == "ok"),
        "",
    ]
    others = [r for r in results if r["status"] != "ok"]
    if others:
        lines += ["Not measured: " + "; ".join(f"`{r['name']}` {r['status']}" for r in others), ""]
    lines += ["## Details", ""]
    for result in results:
        lines += _details(result)
    lines.append(HOW_TO_READ)
    return "\n".join(lines)
