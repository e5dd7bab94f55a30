"""`python -m bench.features`: what each feature costs the gateway, in paired rounds on one server.

One gateway (2 proxy workers, Redis, PostgreSQL) in front of the fake upstream serves several
targets side by side, taking turns in each round (wrk, 64 connections): the plain provider path,
the same path with a policy (every entity the local detector knows and 5 regex rules) on a 2 KB
prompt, the plain path with that 2 KB prompt and no policy, a failover route with one healthy
step, and a cached route answering from its cache. Each round reports the gateway's CPU per
request (its gunicorn tree, from /proc); read the medians and the differences between targets
measured in the same rounds.

    python -m bench.features --rounds 4 --seconds 6
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench import drivers, procs, web
from bench.paired import gateway
from bench.scenarios import ROOT

# About 2 KB of ordinary prose with numbers that are no personal data (a policy must scan it all).
PROMPT_2KB = (
    "Summarise the quarterly report in three bullet points. Revenue grew 12 percent to 4.2 "
    "million, driven by 318 new accounts in 14 regions; churn fell to 2.1 percent. The team "
    "shipped 27 releases, closed 1,204 tickets and cut median response time to 3.5 hours. "
) * 7


def _admin(port: int, method: str, path: str, body: Any) -> Any:
    status, answer = web.request_json(method, f"http://127.0.0.1:{port}{path}", body)
    if status >= 300:
        raise RuntimeError(f"{method} {path}: {status} {answer}")
    return answer


def _targets(admin_port: int, proxy_port: int, upstream_url: str) -> dict[str, drivers.Target]:
    """Create the settings, keys, policy and routes; the targets to measure, by name."""
    from app.pii.local import LocalDetector

    setting = _admin(admin_port, "PUT", "/api/provider-settings",
                     {"provider": "openai", "setting": {"apikey": "sk", "url": upstream_url}})  # fmt: skip
    rules = {entity: "allow_but_redact" for entity in sorted(LocalDetector().entities)}
    regexes = [{"definition": rf"\bproject-{w}[0-9]+\b", "action": "block"}
               for w in ("alpha", "beta", "gamma", "delta", "omega")]  # fmt: skip
    policy = _admin(admin_port, "POST", "/api/policies", {
        "name": "bench", "tags": ["bench"], "config": {"rules": rules},
        "regexConfig": {"rules": regexes}})  # fmt: skip

    def key(**fields: Any) -> tuple[str, str]:
        secret = f"bench-{uuid.uuid4().hex}"
        made = _admin(admin_port, "PUT", "/api/key-management/keys", {
            "name": "bench", "key": secret, "settingIds": [setting["id"]],
            "rateLimitOverTime": 1000000, "rateLimitUnit": "m", **fields})  # fmt: skip
        return secret, made["keyId"]

    plain, plain_id = key()
    guarded, _ = key(policyId=policy["id"])
    steps = [{"provider": "openai", "model": "gpt-4o-mini"}]
    for name, cached in (("route", False), ("cached", True)):
        _admin(admin_port, "POST", "/api/routes", {
            "name": name, "path": f"/{name}/chat/completions", "steps": steps, "keyIds": [plain_id],
            "cacheConfig": {"enabled": cached}})  # fmt: skip
    proxy = f"http://127.0.0.1:{proxy_port}"
    chat = f"{proxy}/api/providers/openai/v1/chat/completions"

    def bearer(secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}

    return {
        "provider": drivers.Target(chat, bearer(plain)),
        "route, one healthy step": drivers.Target(f"{proxy}/api/route/route/chat/completions", bearer(plain)),
        "route cache hit": drivers.Target(f"{proxy}/api/route/cached/chat/completions", bearer(plain)),
        "provider, 2 KB prompt": drivers.Target(chat, bearer(plain), prompt=PROMPT_2KB),
        "policy, 2 KB prompt": drivers.Target(chat, bearer(guarded), prompt=PROMPT_2KB),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.features", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0)
    opts = parser.parse_args(argv)
    command = ["node", str(ROOT / "bench" / "fake_upstream.js"), "--port", "0", "--watch-stdin"]
    upstream = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert upstream.stdout is not None
    upstream_url = f"http://127.0.0.1:{json.loads(upstream.stdout.readline())['port']}"
    wrk = drivers.find_wrk(install=True)
    results: dict[str, list[float]] = {}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-features-") as work,
            gateway(2, ROOT, upstream_url, Path(work)) as (pid, _),
        ):
            admin_port, proxy_port = 9401 + 20, 9401 + 21
            targets = _targets(admin_port, proxy_port, upstream_url)
            web.request("GET", f"http://127.0.0.1:{proxy_port}/api/health")
            for target in targets.values():
                drivers.closed_loop(target, wrk, 64, 2)  # warm-up (and the cache's one miss)
            for index in range(opts.rounds):
                for name, target in targets.items():
                    before = procs.tree_cpu_seconds(pid)
                    outcome = drivers.closed_loop(target, wrk, 64, opts.seconds)
                    cpu_ms = (
                        (procs.tree_cpu_seconds(pid) - before) / max(1, outcome["requests"]) * 1000
                    )
                    results.setdefault(name, []).append(cpu_ms)
                    print(f"round {index} {name}: {cpu_ms:.3f} ms CPU/request, {outcome['rps']} req/s, "
                          f"{outcome['error_count']} errors", flush=True)  # fmt: skip
    finally:
        upstream.terminate()
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, median in medians.items():
        print(f"median {name}: {median:.3f} ms CPU/request")
    print(
        f"route over provider: {medians['route, one healthy step'] - medians['provider']:+.3f} ms"
    )
    print(f"cache hit over provider: {medians['route cache hit'] - medians['provider']:+.3f} ms")
    print(
        f"policy over its prompt: {medians['policy, 2 KB prompt'] - medians['provider, 2 KB prompt']:+.3f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
