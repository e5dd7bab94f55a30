"""What the benchmark compares: one Scenario per way of reaching the fake upstream.

A scenario is data: the server to start (`start_cmd`, `env`, `ready_url`; None for the direct
baseline), processes it needs beside it (`companions`, e.g. the admin API), where chat completions
go (`target_url_for_chat`, `headers`), and hooks: `prepare` before anything starts (write a config,
run migrations), `setup` once everything answers (create the provider setting and key through the
admin API), `unavailable` to say why it cannot run here (not installed, port taken).

Strings may hold placeholders filled from Context.values(): {upstream_url} {upstream_port}
{admin_port} {proxy_port} {peer_port} {work} {root} {python} {envs}.
To add a gateway, append a Scenario to SCENARIOS.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import web

ROOT = Path(__file__).resolve().parent.parent
ENVS = ROOT / "bench" / ".envs"


@dataclass
class Context:
    """What a scenario's strings and hooks may use."""

    upstream_url: str
    upstream_port: int
    work: Path
    admin_port: int = 8001
    proxy_port: int = 8002
    peer_port: int = 8003

    def values(self) -> dict[str, Any]:
        return {
            "upstream_url": self.upstream_url,
            "upstream_port": self.upstream_port,
            "admin_port": self.admin_port,
            "proxy_port": self.proxy_port,
            "peer_port": self.peer_port,
            "work": str(self.work),
            "root": str(ROOT),
            "python": sys.executable,
            "envs": str(ENVS),
        }

    def fill(self, text: str) -> str:
        return text.format(**self.values())


@dataclass
class Companion:
    """A process a scenario needs running beside the measured one (not measured)."""

    name: str
    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_url: str | None = None


Hook = Callable[[Context], None]


@dataclass
class Scenario:
    name: str
    description: str
    start_cmd: list[str] | None
    env: dict[str, str]
    ready_url: str | None
    target_url_for_chat: str
    headers: dict[str, str]
    setup: Hook | None = None
    prepare: Hook | None = None
    companions: list[Companion] = field(default_factory=list)
    unavailable: Callable[[Context], str | None] | None = None
    ports: tuple[str, ...] = ()  # Context attributes naming ports this scenario listens on


# checks ----------------------------------------------------------------------------------------------


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _redis_missing(ctx: Context) -> str | None:
    if not port_taken(6379):
        return "no Redis on 127.0.0.1:6379"
    return _gateway_missing(ctx)


def _gateway_missing(ctx: Context) -> str | None:
    if not (ROOT / "wsgi.py").exists() or not (ROOT / "app").is_dir():
        return "the gateway (wsgi.py, app/) is not in this tree yet"
    return None


def _installed(path: str, how: str) -> Callable[[Context], str | None]:
    def check(ctx: Context) -> str | None:
        return None if Path(ctx.fill(path)).exists() else f"not installed: {how}"

    return check


# this gateway ----------------------------------------------------------------------------------------

GUNICORN = ["{python}", "-m", "gunicorn", "-c", "{root}/gunicorn.conf.py"]
GATEWAY_ENV = {
    "SQLITE_PATH": "{work}/bricksllm.db",
    "EVENT_JOURNAL_DIR": "{work}/journal",
    "ADMIN_PORT": "{admin_port}",
    "PROXY_PORT": "{proxy_port}",
    "POSTGRESQL_HOSTS": "",
    "REDIS_HOSTS": "",
    "ADMIN_PASS": "",
    "LOG_LEVEL": "WARNING",
    "GUNICORN_ACCESS_LOG": "",
}
BENCH_KEY = "bench-key"


def _migrate(env: dict[str, str]) -> Hook:
    def prepare(ctx: Context) -> None:
        full = {**_base_env(), **{k: ctx.fill(v) for k, v in env.items()}}
        cmd = [sys.executable, "-m", "app.cli", "migrate"]
        done = subprocess.run(cmd, env=full, cwd=ROOT, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"migrations failed: {done.stdout[-500:]} {done.stderr[-1500:]}")

    return prepare


def create_bricks_key(ctx: Context) -> None:
    """PUT a provider setting pointing at the fake upstream, then a key allowed to use it."""
    admin = f"http://127.0.0.1:{ctx.admin_port}"
    setting = {"provider": "openai", "setting": {"apikey": "sk-bench", "url": ctx.upstream_url}}
    status, body = web.request_json("PUT", admin + "/api/provider-settings", setting)
    if status >= 300 or not isinstance(body, dict) or "id" not in body:
        raise RuntimeError(f"creating the provider setting: {status} {body}")
    key = {
        "name": "bench",
        "key": BENCH_KEY,
        "settingIds": [body["id"]],
        "rateLimitOverTime": 1000000,
        "rateLimitUnit": "m",
        "costLimitInUsd": 1000000,
    }
    status, answer = web.request_json("PUT", admin + "/api/key-management/keys", key)
    if status >= 300:
        raise RuntimeError(f"creating the key: {status} {answer}")


BENCH_DATABASE = "bricks_bench"


def fresh_database(name: str = BENCH_DATABASE) -> None:
    """Each run starts from an empty database, so the bench key can be created again."""
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres", connect_timeout=3)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()


def _postgres_missing(ctx: Context) -> str | None:
    redis = _redis_missing(ctx)
    if redis:
        return redis
    try:
        fresh_database()
    except Exception as exc:  # noqa: BLE001 - any failure means the scenario cannot run here
        return f"PostgreSQL on 127.0.0.1:5432 is not usable: {exc}"
    return None


def _bricks(name: str, description: str, extra_env: dict[str, str], missing: Any) -> Scenario:
    env = {**GATEWAY_ENV, **extra_env}
    return Scenario(
        name=name,
        description=description,
        start_cmd=[*GUNICORN, "-b", "127.0.0.1:{proxy_port}"],
        env={**env, "BRICKS_ROLE": "proxy"},
        ready_url="http://127.0.0.1:{proxy_port}/",
        target_url_for_chat="http://127.0.0.1:{proxy_port}/api/providers/openai/v1/chat/completions",
        headers={"Authorization": f"Bearer {BENCH_KEY}"},
        setup=create_bricks_key,
        prepare=_migrate(env),
        companions=[
            Companion(
                "admin",
                [*GUNICORN, "-b", "127.0.0.1:{admin_port}"],
                {**env, "BRICKS_ROLE": "admin"},
                "http://127.0.0.1:{admin_port}/",
            )
        ],
        unavailable=missing,
        ports=("admin_port", "proxy_port"),
    )


# peers -------------------------------------------------------------------------------------------------


def _write_litellm_config(ctx: Context) -> None:
    ctx.work.mkdir(parents=True, exist_ok=True)
    (ctx.work / "litellm.yaml").write_text(
        "model_list:\n"
        "  - model_name: gpt-4o-mini\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o-mini\n"
        f"      api_base: {ctx.upstream_url}/v1\n"
        "      api_key: sk-bench\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "general_settings:\n"
        "  master_key: sk-bench-master\n"
    )


LITELLM = Scenario(
    name="litellm",
    description="peer: LiteLLM proxy from PyPI (bench/.envs/litellm), 1 worker, no database",
    start_cmd=["{envs}/litellm/bin/litellm", "--config", "{work}/litellm.yaml"]
    + ["--host", "127.0.0.1", "--port", "{peer_port}", "--num_workers", "1"],
    env={
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "LITELLM_LOG": "ERROR",
        "DISABLE_SCHEMA_UPDATE": "True",
    },
    ready_url="http://127.0.0.1:{peer_port}/health/liveliness",
    target_url_for_chat="http://127.0.0.1:{peer_port}/v1/chat/completions",
    headers={"Authorization": "Bearer sk-bench-master"},
    prepare=_write_litellm_config,
    unavailable=_installed("{envs}/litellm/bin/litellm", "python -m bench.peers litellm"),
    ports=("peer_port",),
)

PORTKEY = Scenario(
    name="portkey",
    description="peer: Portkey gateway from npm (bench/.envs/portkey), Node, no auth or storage",
    start_cmd=["node", "{envs}/portkey/node_modules/@portkey-ai/gateway/build/start-server.js"]
    + ["--port={peer_port}", "--headless"],
    env={"NODE_ENV": "production"},
    ready_url="http://127.0.0.1:{peer_port}/",
    target_url_for_chat="http://127.0.0.1:{peer_port}/v1/chat/completions",
    headers={
        "Authorization": "Bearer sk-bench",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": "{upstream_url}/v1",
    },
    unavailable=_installed(
        "{envs}/portkey/node_modules/@portkey-ai/gateway/build/start-server.js",
        "python -m bench.peers portkey",
    ),
    ports=("peer_port",),
)


DIRECT = Scenario(
    name="direct",
    description="no gateway: the drivers call the fake upstream itself (the baseline)",
    start_cmd=None,
    env={},
    ready_url=None,
    target_url_for_chat="{upstream_url}/v1/chat/completions",
    headers={"Authorization": "Bearer sk-bench"},
)

SCENARIOS: list[Scenario] = [
    DIRECT,
    _bricks(
        "bricksllm-py",
        "this gateway, embedded defaults: SQLite, in-process counters (so 1 proxy worker)",
        {},
        _gateway_missing,
    ),
    _bricks(
        "bricksllm-py-redis",
        "this gateway with Redis counters on 127.0.0.1:6379 and 2 proxy workers",
        {"REDIS_HOSTS": "127.0.0.1", "REDIS_PORT": "6379", "GUNICORN_WORKERS": "2"},
        _redis_missing,
    ),
    _bricks(
        "bricksllm-py-full",
        "this gateway with every feature on: Redis counters, events to PostgreSQL, 2 proxy workers",
        {
            "REDIS_HOSTS": "127.0.0.1",
            "REDIS_PORT": "6379",
            "GUNICORN_WORKERS": "2",
            "POSTGRESQL_HOSTS": "127.0.0.1",
            "POSTGRESQL_USERNAME": "postgres",
            "POSTGRESQL_DB_NAME": BENCH_DATABASE,
        },
        _postgres_missing,
    ),
    PORTKEY,
    LITELLM,
]


def _base_env() -> dict[str, str]:
    """The environment children start from: ours, minus proxies (every address is loopback)."""
    drop = {"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def child_env(ctx: Context, env: dict[str, str]) -> dict[str, str]:
    return {**_base_env(), **{k: ctx.fill(v) for k, v in env.items()}}
