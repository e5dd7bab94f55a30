"""The gateway's configuration: one typed `Settings` object read from the environment once.

Every variable of the BricksLLM README keeps its name and meaning; the additions are documented
in `VARIABLES` below. An invalid value stops start-up with a `ConfigError` naming the variable.
Durations accept Go-style values (`500ms`, `5s`, `2m`, `1h30m`) as BricksLLM does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from app.domain.durations import DurationError, parse_duration
from app.errors import ConfigError as ConfigError  # re-exported: raised here

# name -> (default, one line of documentation). The README's table is generated from the same words.
VARIABLES: dict[str, tuple[str, str]] = {
    "POSTGRESQL_HOSTS": (
        "",
        "PostgreSQL hosts, comma separated. Unset: the embedded SQLite database.",
    ),
    "POSTGRESQL_DB_NAME": ("", "PostgreSQL database name."),
    "POSTGRESQL_USERNAME": ("", "PostgreSQL user."),
    "POSTGRESQL_PASSWORD": ("", "PostgreSQL password."),
    "POSTGRESQL_SSL_MODE": ("disable", "PostgreSQL sslmode."),
    "POSTGRESQL_PORT": ("5432", "PostgreSQL port."),
    "POSTGRESQL_READ_TIME_OUT": ("2m", "Timeout of PostgreSQL reads (statement timeout)."),
    "POSTGRESQL_WRITE_TIME_OUT": ("5s", "Timeout of PostgreSQL writes."),
    "POSTGRESQL_POOL_SIZE": ("10", "Connections per process in the PostgreSQL pool."),
    "SQLITE_PATH": ("./data/bricksllm.db", "Path of the embedded SQLite database."),
    "DATABASE_URL": (
        "",
        "postgres://user:password@host:port/db[?sslmode=...] (Heroku, Render...): used when "
        "POSTGRESQL_HOSTS is unset.",
    ),
    "REDIS_HOSTS": ("", "Redis host(s). Unset: in-process counters (one process only)."),
    "REDIS_URL": (
        "",
        "redis://[user:password@]host:port[/db] or rediss:// (TLS): used when REDIS_HOSTS is unset.",
    ),
    "REDIS_TLS": ("false", "Connect to Redis over TLS (rediss:// in REDIS_URL sets it)."),
    "REDIS_TLS_VERIFY": (
        "true",
        "Verify the Redis server's certificate; false for self-signed ones (Heroku Redis).",
    ),
    "REDIS_CLUSTER": (
        "false",
        "Redis Cluster: the hosts are seed nodes; all limit counters share one hash tag.",
    ),
    "REDIS_SENTINEL_MASTER": (
        "",
        "Redis Sentinel: the master's name; REDIS_HOSTS then lists the sentinels (host or "
        "host:port, port REDIS_PORT or 26379).",
    ),
    "REDIS_SENTINEL_PASSWORD": (
        "",
        "The sentinels' password (REDIS_PASSWORD stays the master's), with REDIS_SENTINEL_MASTER.",
    ),
    "REDIS_PASSWORD": ("", "Redis password."),
    "REDIS_PORT": ("6379", "Redis port."),
    "REDIS_READ_TIME_OUT": ("1s", "Timeout of Redis reads."),
    "REDIS_WRITE_TIME_OUT": ("500ms", "Timeout of Redis writes and connects."),
    "REDIS_POOL_SIZE": ("200", "Connections per process in the Redis pool."),
    "IN_MEMORY_DB_UPDATE_INTERVAL": ("1s", "How often the proxy refreshes keys and settings."),
    "STATS_PROVIDER": (
        "",
        "'datadog': also send the metrics to DogStatsD at DD_AGENT_HOST:DD_DOGSTATSD_PORT.",
    ),
    "DD_AGENT_HOST": ("localhost", "DogStatsD agent host (with STATS_PROVIDER=datadog)."),
    "DD_DOGSTATSD_PORT": ("8125", "DogStatsD agent UDP port (with STATS_PROVIDER=datadog)."),
    "LOG_FORMAT": ("plain", "Access lines: 'plain' or 'json' (one JSON object a line)."),
    "ACCESS_LOG_ENABLED": ("true", "One access line per request; false writes none."),
    "METRICS_ENABLED": (
        "true",
        "Per-request metrics and /metrics (and DogStatsD); false: neither, and /metrics is a 404.",
    ),
    "PROMETHEUS_MULTIPROC_DIR": (
        "",
        "Where proxy workers share metric files. Unset: a temporary directory per start.",
    ),
    "PROXY_TIMEOUT": ("600s", "Timeout of a proxied upstream request."),
    "NUMBER_OF_EVENT_MESSAGE_CONSUMERS": ("3", "Greenlets writing events to the database."),
    "EVENT_QUEUE_SIZE": ("10000", "Events buffered in memory before the journal takes them."),
    "EVENT_JOURNAL_DIR": ("./data/journal", "Where events wait while the database is down."),
    "EVENT_RETENTION_DAYS": (
        "0",
        "Delete events older than N days (admin, hourly, batched). 0: keep all.",
    ),
    "AWS_ACCESS_KEY_ID": ("", "AWS credentials for PII detection (Comprehend)."),
    "AWS_SECRET_ACCESS_KEY": ("", "AWS credentials for PII detection (Comprehend)."),
    "AMAZON_REGION": ("us-west-2", "AWS region."),
    "AMAZON_REQUEST_TIMEOUT": ("5s", "Timeout of AWS requests."),
    "AMAZON_CONNECTION_TIMEOUT": ("10s", "Timeout of AWS connects."),
    "ADMIN_PORT": ("8001", "Port of the admin API."),
    "PROXY_PORT": ("8002", "Port of the proxy."),
    "ADMIN_PASS": ("", "Admin password expected in X-API-KEY. Unset: admin binds to loopback."),
    "ADMIN_ON_PROXY_PORT": (
        "false",
        "Also serve the admin API on the proxy's port (one-public-port platforms); needs ADMIN_PASS.",
    ),
    "ADMIN_MAX_BODY_BYTES": ("1048576", "Largest admin request body in bytes; larger is a 413."),
    "RATE_LIMIT_FAIL_OPEN": (
        "true",
        "Admit requests when Redis is down and only rate limits apply.",
    ),
    "COST_LIMIT_FAIL_OPEN": ("false", "Admit requests when Redis is down and cost limits apply."),
    "COST_ESTIMATE_OUTPUT": (
        "max",
        "Reserve a request without max_tokens at the model's maximum output ('max', a hard cap) "
        "or at its prompt only ('bound', lighter).",
    ),
    "LOG_LEVEL": ("INFO", "Python log level."),
    "GUNICORN_WORKER_CONNECTIONS": (
        "2000",
        "Client connections per proxy worker; also the upstream pool's size per origin.",
    ),
}


# Read by gunicorn.conf.py and the process manager, not by `Settings`; listed for the README's table.
SERVER_VARIABLES: dict[str, tuple[str, str]] = {
    "BRICKS_ROLE": (
        "proxy",
        "Which server gunicorn.conf.py runs: proxy or admin (set by the Procfile).",
    ),
    "PORT": ("", "The proxy's port when set (Heroku and similar platforms set it)."),
    "GUNICORN_WORKERS": ("2", "Proxy workers (1 without Redis); the admin server runs 1."),
    "WEB_CONCURRENCY": ("", "Read when GUNICORN_WORKERS is unset (set by some platforms)."),
    "GUNICORN_WORKER_CONNECTIONS": ("2000", "Client connections a worker holds at once."),
    "GUNICORN_TIMEOUT": ("30", "Worker heartbeat timeout in seconds, not a request limit."),
    "GUNICORN_GRACEFUL_TIMEOUT": ("30", "Seconds a stopping worker gets to finish its requests."),
    "GUNICORN_KEEPALIVE": ("75", "Seconds an idle client connection is kept, and any client wait."),
    "GUNICORN_WORKER_CLASS": ("", "'gevent' for gunicorn's own gevent worker."),
    "GUNICORN_ACCESS_LOG": (
        "",
        "A file (or '-') for gunicorn's own access log, beside the gateway's.",
    ),
}


@dataclass(frozen=True)
class Settings:
    """Typed configuration. Durations are seconds as floats."""

    postgresql_hosts: tuple[str, ...] = ()
    postgresql_db_name: str = ""
    postgresql_username: str = ""
    postgresql_password: str = field(default="", repr=False)
    postgresql_ssl_mode: str = "disable"
    postgresql_port: int = 5432
    postgresql_read_timeout: float = 120.0
    postgresql_write_timeout: float = 5.0
    postgresql_pool_size: int = 10
    sqlite_path: str = "./data/bricksllm.db"
    redis_hosts: tuple[str, ...] = ()
    redis_password: str = field(default="", repr=False)
    redis_port: int = 6379
    redis_read_timeout: float = 1.0
    redis_write_timeout: float = 0.5
    redis_pool_size: int = 200
    redis_username: str = ""
    redis_db: int = 0
    redis_tls: bool = False
    redis_tls_verify: bool = True
    redis_cluster: bool = False
    redis_sentinel_master: str = ""
    redis_sentinel_password: str = field(default="", repr=False)
    in_memory_db_update_interval: float = 1.0
    stats_provider: str = ""
    dd_agent_host: str = "localhost"
    dd_dogstatsd_port: int = 8125
    log_format: str = "plain"
    access_log_enabled: bool = True
    metrics_enabled: bool = True
    prometheus_multiproc_dir: str = ""
    proxy_timeout: float = 600.0
    number_of_event_message_consumers: int = 3
    event_queue_size: int = 10000
    event_journal_dir: str = "./data/journal"
    event_retention_days: int = 0
    aws_access_key_id: str = field(default="", repr=False)
    aws_secret_access_key: str = field(default="", repr=False)
    amazon_region: str = "us-west-2"
    amazon_request_timeout: float = 5.0
    amazon_connection_timeout: float = 10.0
    admin_port: int = 8001
    proxy_port: int = 8002
    admin_pass: str = field(default="", repr=False)
    admin_on_proxy_port: bool = False
    admin_max_body_bytes: int = 1_048_576
    rate_limit_fail_open: bool = True
    cost_limit_fail_open: bool = False
    cost_estimate_output: str = "max"
    log_level: str = "INFO"
    gunicorn_worker_connections: int = 2000

    @property
    def uses_postgres(self) -> bool:
        return bool(self.postgresql_hosts)

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_hosts)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every variable once; raise ConfigError naming the first bad one."""
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        values = cls._read(reader)
        if not values["postgresql_hosts"] and reader.text("DATABASE_URL"):
            values.update(_postgres_url(reader.text("DATABASE_URL"), env))
        port_set = bool(env.get("REDIS_PORT"))
        if not values["redis_hosts"] and reader.text("REDIS_URL"):
            values.update(_redis_url(reader.text("REDIS_URL")))
            port_set = True
        values.update(_sentinel(values, port_set))
        if values["admin_on_proxy_port"] and not values["admin_pass"]:
            raise ConfigError("ADMIN_ON_PROXY_PORT=true needs ADMIN_PASS: the port is public")
        return cls(**values)

    @staticmethod
    def _read(reader: _Reader) -> dict[str, Any]:
        return dict(
            postgresql_hosts=reader.hosts("POSTGRESQL_HOSTS"),
            postgresql_db_name=reader.text("POSTGRESQL_DB_NAME"),
            postgresql_username=reader.text("POSTGRESQL_USERNAME"),
            postgresql_password=reader.text("POSTGRESQL_PASSWORD"),
            postgresql_ssl_mode=reader.choice(
                "POSTGRESQL_SSL_MODE",
                ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
            ),
            postgresql_port=reader.port("POSTGRESQL_PORT"),
            postgresql_read_timeout=reader.duration("POSTGRESQL_READ_TIME_OUT"),
            postgresql_write_timeout=reader.duration("POSTGRESQL_WRITE_TIME_OUT"),
            postgresql_pool_size=reader.positive_int("POSTGRESQL_POOL_SIZE"),
            sqlite_path=reader.text("SQLITE_PATH"),
            redis_hosts=reader.hosts("REDIS_HOSTS"),
            redis_password=reader.text("REDIS_PASSWORD"),
            redis_port=reader.port("REDIS_PORT"),
            redis_read_timeout=reader.duration("REDIS_READ_TIME_OUT"),
            redis_write_timeout=reader.duration("REDIS_WRITE_TIME_OUT"),
            redis_pool_size=reader.positive_int("REDIS_POOL_SIZE"),
            redis_tls=reader.boolean("REDIS_TLS"),
            redis_tls_verify=reader.boolean("REDIS_TLS_VERIFY"),
            redis_cluster=reader.boolean("REDIS_CLUSTER"),
            redis_sentinel_master=reader.text("REDIS_SENTINEL_MASTER"),
            redis_sentinel_password=reader.text("REDIS_SENTINEL_PASSWORD"),
            in_memory_db_update_interval=reader.duration("IN_MEMORY_DB_UPDATE_INTERVAL"),
            stats_provider=reader.choice("STATS_PROVIDER", ("", "datadog")),
            dd_agent_host=reader.text("DD_AGENT_HOST"),
            dd_dogstatsd_port=reader.port("DD_DOGSTATSD_PORT"),
            log_format=reader.choice("LOG_FORMAT", ("plain", "json")),
            access_log_enabled=reader.boolean("ACCESS_LOG_ENABLED"),
            metrics_enabled=reader.boolean("METRICS_ENABLED"),
            prometheus_multiproc_dir=reader.text("PROMETHEUS_MULTIPROC_DIR"),
            proxy_timeout=reader.duration("PROXY_TIMEOUT"),
            number_of_event_message_consumers=reader.positive_int(
                "NUMBER_OF_EVENT_MESSAGE_CONSUMERS"
            ),
            event_queue_size=reader.positive_int("EVENT_QUEUE_SIZE"),
            event_journal_dir=reader.text("EVENT_JOURNAL_DIR"),
            event_retention_days=reader.non_negative_int("EVENT_RETENTION_DAYS"),
            aws_access_key_id=reader.text("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=reader.text("AWS_SECRET_ACCESS_KEY"),
            amazon_region=reader.text("AMAZON_REGION"),
            amazon_request_timeout=reader.duration("AMAZON_REQUEST_TIMEOUT"),
            amazon_connection_timeout=reader.duration("AMAZON_CONNECTION_TIMEOUT"),
            admin_port=reader.port("ADMIN_PORT"),
            proxy_port=reader.port("PROXY_PORT"),
            admin_pass=reader.text("ADMIN_PASS"),
            admin_on_proxy_port=reader.boolean("ADMIN_ON_PROXY_PORT"),
            admin_max_body_bytes=reader.positive_int("ADMIN_MAX_BODY_BYTES"),
            rate_limit_fail_open=reader.boolean("RATE_LIMIT_FAIL_OPEN"),
            cost_limit_fail_open=reader.boolean("COST_LIMIT_FAIL_OPEN"),
            cost_estimate_output=reader.choice("COST_ESTIMATE_OUTPUT", ("max", "bound")),
            log_level=reader.choice(
                "LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), upper=True
            ),
            gunicorn_worker_connections=reader.positive_int("GUNICORN_WORKER_CONNECTIONS"),
        )


def _postgres_url(url: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The POSTGRESQL_* values of a DATABASE_URL; POSTGRESQL_SSL_MODE, when set, wins over the
    URL's sslmode, and without either a URL connection prefers TLS (managed databases want it)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname:
        raise ConfigError("DATABASE_URL must look like postgres://user:password@host:5432/db")
    query = dict(parse_qsl(parts.query))
    try:
        port = parts.port or 5432
    except ValueError as exc:
        raise ConfigError("DATABASE_URL has an invalid port") from exc
    values: dict[str, Any] = {
        "postgresql_hosts": (parts.hostname,),
        "postgresql_port": port,
        "postgresql_db_name": unquote(parts.path.lstrip("/")),
        "postgresql_username": unquote(parts.username or ""),
        "postgresql_password": unquote(parts.password or ""),
    }
    if not env.get("POSTGRESQL_SSL_MODE"):
        values["postgresql_ssl_mode"] = query.get("sslmode", "prefer")
    return values


def _redis_url(url: str) -> dict[str, Any]:
    """The REDIS_* values of a REDIS_URL (redis:// or rediss:// for TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ConfigError("REDIS_URL must look like redis://:password@host:6379/0 or rediss://...")
    database = parts.path.lstrip("/") or "0"
    if not database.isdigit():
        raise ConfigError(f"REDIS_URL names database {database!r}: use a number")
    try:
        port = parts.port or 6379
    except ValueError as exc:
        raise ConfigError("REDIS_URL has an invalid port") from exc
    values: dict[str, Any] = {
        "redis_hosts": (parts.hostname,),
        "redis_port": port,
        "redis_username": unquote(parts.username or ""),
        "redis_password": unquote(parts.password or ""),
        "redis_db": int(database),
    }
    if parts.scheme == "rediss":
        values["redis_tls"] = True
        if dict(parse_qsl(parts.query)).get("ssl_cert_reqs", "").lower() == "none":
            values["redis_tls_verify"] = False
    return values


def _sentinel(values: dict[str, Any], port_set: bool) -> dict[str, Any]:
    """Checks the Sentinel settings against the others; the sentinels' port is 26379 (theirs by
    convention) unless REDIS_PORT or REDIS_URL names one. Returns the values to change."""
    if not values["redis_sentinel_master"]:
        if values["redis_sentinel_password"]:
            raise ConfigError("REDIS_SENTINEL_PASSWORD is set without REDIS_SENTINEL_MASTER")
        return {}
    if values["redis_cluster"]:
        raise ConfigError("REDIS_SENTINEL_MASTER and REDIS_CLUSTER=true exclude each other")
    if not values["redis_hosts"]:
        raise ConfigError("REDIS_SENTINEL_MASTER needs REDIS_HOSTS listing the sentinels")
    return {} if port_set else {"redis_port": 26379}


class _Reader:
    """Reads one variable at a time, applying the documented default."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str) -> str:
        value = self._env.get(name)
        return VARIABLES[name][0] if value is None or value == "" else value.strip()

    def hosts(self, name: str) -> tuple[str, ...]:
        return tuple(h.strip() for h in self.text(name).split(",") if h.strip())

    def duration(self, name: str) -> float:
        raw = self.text(name)
        try:
            seconds = parse_duration(raw)
        except DurationError as exc:
            raise ConfigError(f"{name}={raw!r} is not a duration like 500ms, 5s or 1h30m") from exc
        if seconds <= 0:
            raise ConfigError(f"{name}={raw!r} must be longer than zero")
        return seconds

    def positive_int(self, name: str) -> int:
        raw = self.text(name)
        if not re.fullmatch(r"\d+", raw) or int(raw) < 1:
            raise ConfigError(f"{name}={raw!r} must be a whole number of at least 1")
        return int(raw)

    def non_negative_int(self, name: str) -> int:
        raw = self.text(name)
        if not re.fullmatch(r"\d+", raw):
            raise ConfigError(f"{name}={raw!r} must be a whole number (0 or more)")
        return int(raw)

    def port(self, name: str) -> int:
        value = self.positive_int(name)
        if value > 65535:
            raise ConfigError(f"{name}={value} is not a TCP port")
        return value

    def boolean(self, name: str) -> bool:
        raw = self.text(name).lower()
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}={raw!r} must be true or false")

    def choice(self, name: str, allowed: tuple[str, ...], upper: bool = False) -> str:
        raw = self.text(name)
        value = raw.upper() if upper else raw
        if value not in allowed:
            raise ConfigError(f"{name}={raw!r} must be one of {', '.join(a for a in allowed if a)}")
        return value
