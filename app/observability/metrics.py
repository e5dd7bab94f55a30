"""Gateway metrics: one call per proxied request, to Prometheus and (optionally) DogStatsD.

`Metrics.observe_request(...)` is called once per proxied request, from the batches of
`request_records.py` (fed where the event row is assembled);
`watch_*` register the background figures (event pipeline, config snapshot, upstream pool),
read every few seconds by `refresh()` and at each scrape of `/metrics`.

A request's figures arrive in batches (`request_records.py`, every 0.1 s) and are tallied in plain
Python (a few integer additions); each worker adds its tallies to the Prometheus series every
`FLUSH_INTERVAL_S` (1 s), at each scrape it serves, and when it stops. Each prometheus-client increment in multiprocess mode is a locked write to a memory-mapped
file: the nine of a request cost more than the 0.05 ms per request the gateway allows for metrics
and logs together, a flush costs about the same for a whole second of requests. So a scrape sees
a request at most one second after it ended on another worker (at once on the scraped worker);
Prometheus scrapes every 15 s or more. A worker killed with SIGKILL loses its last second.

Prometheus: prometheus-client in multiprocess mode when `PROMETHEUS_MULTIPROC_DIR` is set
(gunicorn.conf.py sets it before any worker starts and removes a dead worker's files), so a
scrape of any worker sums every worker. DogStatsD: `STATS_PROVIDER=datadog` sends the same
names (dots for the Prometheus underscores after `bricksllm`, without `_total`) through the
`datadog` package to `DD_AGENT_HOST:DD_DOGSTATSD_PORT`, buffered and flushed in the background.

Series (labels bounded, see `labels.py`; never per key or user):
- bricksllm_requests_total{provider, model, operation, status}
- bricksllm_gateway_latency_seconds{provider, operation}  histogram: time the gateway added
- bricksllm_upstream_latency_seconds{provider, operation} histogram: time waiting for upstream
- bricksllm_tokens_total{provider, model, kind=prompt|completion}
- bricksllm_cost_usd_total{provider, model}
- bricksllm_limit_decisions_total{decision}
- bricksllm_events_total{outcome=queued|written|journaled|replayed|rejected|lost}
- bricksllm_events_pending                 gauge, summed over live workers
- bricksllm_config_snapshot_age_seconds    gauge, max over live workers
- bricksllm_config_snapshot_keys           gauge, max over live workers
- bricksllm_upstream_connections{state=in_use|idle}  gauge, summed over live workers
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from gevent.monkey import get_original
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.observability.labels import BoundedValues, decision_label, status_label

log = logging.getLogger(__name__)

GATEWAY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
EVENT_OUTCOMES = ("queued", "written", "journaled", "replayed", "rejected", "lost")
FLUSH_INTERVAL_S = 1.0
# The interpreter's own lock even in a gevent-patched worker: the tally never yields while it holds
# it, so under gevent it is never contended (and costs a tenth of gevent's); with real threads
# (the tests, a sync server) it keeps a flush from losing an increment.
_real_lock = get_original("_thread", "allocate_lock")


class _Tally:
    """One label set's requests since the last flush: counts per histogram bucket (+Inf last)."""

    __slots__ = ("requests", "gateway", "gateway_sum", "upstream", "upstream_sum", "prompt",
                 "completion", "cost_micros")  # fmt: skip

    def __init__(self) -> None:
        self.requests = self.prompt = self.completion = self.cost_micros = 0
        self.gateway = [0] * (len(GATEWAY_BUCKETS) + 1)
        self.upstream = [0] * (len(UPSTREAM_BUCKETS) + 1)
        self.gateway_sum = self.upstream_sum = 0.0


@dataclass(frozen=True)
class SnapshotFigures:
    age_s: float
    keys: int


@dataclass(frozen=True)
class PoolFigures:
    in_use: int
    idle: int


class StatsdSink:
    """DogStatsD through the `datadog` package; the same names as Prometheus, dotted."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def to_agent(cls, host: str, port: int) -> StatsdSink:
        """A sink sending to the DogStatsD agent at host:port (DD_AGENT_HOST, DD_DOGSTATSD_PORT)."""
        from datadog.dogstatsd.base import DogStatsd

        client = DogStatsd(
            host=host or "localhost",
            port=port,
            # Buffered: one datagram per flush (every 0.3 s), not one per metric of a request.
            disable_buffering=False,
            disable_telemetry=True,
            socket_timeout=0.1,
        )
        return cls(client)

    def request(
        self, tags: list[str], gateway_s: float, upstream_s: float | None, tokens: tuple[int, int],
        cost_usd: float, decision: str,
    ) -> None:  # fmt: skip
        client = self._client
        client.increment("bricksllm.requests", tags=tags)
        client.histogram("bricksllm.gateway_latency_seconds", gateway_s, tags=tags)
        if upstream_s is not None:
            client.histogram("bricksllm.upstream_latency_seconds", upstream_s, tags=tags)
        if tokens[0]:
            client.increment("bricksllm.tokens", tokens[0], tags=[*tags, "kind:prompt"])
        if tokens[1]:
            client.increment("bricksllm.tokens", tokens[1], tags=[*tags, "kind:completion"])
        if cost_usd:
            client.increment("bricksllm.cost_usd", cost_usd, tags=tags)
        client.increment("bricksllm.limit_decisions", tags=[f"decision:{decision}"])

    def gauge(self, name: str, value: float, tags: list[str] | None = None) -> None:
        self._client.gauge(name.replace("bricksllm_", "bricksllm.", 1), value, tags=tags)

    def count(self, name: str, value: int, tags: list[str]) -> None:
        self._client.increment(name.replace("bricksllm_", "bricksllm.", 1), value, tags=tags)

    def flush(self) -> None:
        self._client.flush()


class Metrics:
    """The gateway's metric families; one per process (`current()`), or one per test."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        statsd: StatsdSink | None = None,
        max_models: int = 200,
        max_operations: int = 50,
        max_providers: int = 50,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.statsd = statsd
        self._model = BoundedValues(max_models)
        self._operation = BoundedValues(max_operations)
        self._provider = BoundedValues(max_providers)
        self._children: dict[tuple[str, ...], tuple[Any, ...]] = {}
        self._decisions: dict[str, Any] = {}
        self._tally_lock = _real_lock()
        self._tallies: dict[tuple[str, ...], _Tally] = {}
        self._decision_tallies: dict[str, int] = {}
        self._sources_lock = threading.Lock()
        self._event_sources: list[Callable[[], Any]] = []
        self._event_seen: dict[int, dict[str, int]] = {}
        self._snapshot_source: Callable[[], SnapshotFigures] | None = None
        self._pool_source: Callable[[], PoolFigures] | None = None
        self._stop = threading.Event()
        self._refreshing = False
        self._define(self.registry)

    def _define(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        self.requests = counter(
            "bricksllm_requests", "Proxied requests.", ("provider", "model", "operation", "status")
        )
        self.gateway_latency = Histogram(
            "bricksllm_gateway_latency_seconds", "Time the gateway added to a request.",
            ("provider", "operation"), buckets=GATEWAY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.upstream_latency = Histogram(
            "bricksllm_upstream_latency_seconds", "Time spent waiting for the upstream provider.",
            ("provider", "operation"), buckets=UPSTREAM_BUCKETS, registry=registry,
        )  # fmt: skip
        self.tokens = counter("bricksllm_tokens", "Tokens.", ("provider", "model", "kind"))
        self.cost = counter("bricksllm_cost_usd", "Cost in US dollars.", ("provider", "model"))
        self.limit_decisions = counter(
            "bricksllm_limit_decisions", "Decisions of the limits stage.", ("decision",)
        )
        self.events = counter("bricksllm_events", "Usage events by outcome.", ("outcome",))
        self.events_pending = Gauge(
            "bricksllm_events_pending", "Events queued in memory.",
            registry=registry, multiprocess_mode="livesum",
        )  # fmt: skip
        self.snapshot_age = Gauge(
            "bricksllm_config_snapshot_age_seconds", "Age of the oldest worker's config snapshot.",
            registry=registry, multiprocess_mode="livemax",
        )  # fmt: skip
        self.snapshot_keys = Gauge(
            "bricksllm_config_snapshot_keys", "Keys in the config snapshot.",
            registry=registry, multiprocess_mode="livemax",
        )  # fmt: skip
        self.upstream_connections = Gauge(
            "bricksllm_upstream_connections", "Upstream connections by state.", ("state",),
            registry=registry, multiprocess_mode="livesum",
        )  # fmt: skip

    # -- per request -------------------------------------------------------------------------

    def observe_request(
        self,
        provider: str,
        model: str,
        operation: str,
        status: int,
        gateway_ms: float,
        upstream_ms: float | None,
        prompt_tokens: int,
        completion_tokens: int,
        cost_micros: int,
        limit_decision: str,
    ) -> None:
        """Count one finished request (in the series at the next `flush()`). `upstream_ms` None:
        no upstream call was made."""
        key = (provider, model, operation, status_label(status))
        with self._tally_lock:
            tally = self._tallies.get(key)
            if tally is None:
                tally = self._tallies[key] = _Tally()
            tally.requests += 1
            tally.gateway[bisect.bisect_left(GATEWAY_BUCKETS, gateway_ms / 1000)] += 1
            tally.gateway_sum += gateway_ms / 1000
            if upstream_ms is not None:
                tally.upstream[bisect.bisect_left(UPSTREAM_BUCKETS, upstream_ms / 1000)] += 1
                tally.upstream_sum += upstream_ms / 1000
            tally.prompt += prompt_tokens
            tally.completion += completion_tokens
            tally.cost_micros += cost_micros
            decisions = self._decision_tallies
            decisions[limit_decision] = decisions.get(limit_decision, 0) + 1
        if self.statsd is not None:
            p, m, o, s = key
            tags = [f"provider:{p}", f"model:{m}", f"operation:{o}", f"status:{s}"]
            self.statsd.request(
                tags, gateway_ms / 1000, None if upstream_ms is None else upstream_ms / 1000,
                (prompt_tokens, completion_tokens), cost_micros / 1_000_000,
                decision_label(limit_decision),
            )  # fmt: skip

    def flush(self) -> None:
        """Add the requests tallied since the last flush to the Prometheus series."""
        with self._tally_lock:
            tallies, self._tallies = self._tallies, {}
            decisions, self._decision_tallies = self._decision_tallies, {}
        for key, tally in tallies.items():
            children = self._children.get(key) or self._children_for(key)
            requests, gateway, upstream, prompt, completion, cost = children
            requests.inc(tally.requests)
            _add_observations(gateway, tally.gateway, tally.gateway_sum)
            _add_observations(upstream, tally.upstream, tally.upstream_sum)
            if tally.prompt:
                prompt.inc(tally.prompt)
            if tally.completion:
                completion.inc(tally.completion)
            if tally.cost_micros:
                cost.inc(tally.cost_micros / 1_000_000)
        for decision, count in decisions.items():
            child = self._decisions.get(decision)
            if child is None:
                child = self._decisions[decision] = self.limit_decisions.labels(
                    decision_label(decision)
                )
            child.inc(count)

    def _children_for(self, key: tuple[str, ...]) -> tuple[Any, ...]:
        """The labelled series of one (provider, model, operation, status), made once."""
        provider, model, operation = (
            self._provider(key[0]),
            self._model(key[1]),
            self._operation(key[2]),
        )
        children = (
            self.requests.labels(provider, model, operation, key[3]),
            self.gateway_latency.labels(provider, operation),
            self.upstream_latency.labels(provider, operation),
            self.tokens.labels(provider, model, "prompt"),
            self.tokens.labels(provider, model, "completion"),
            self.cost.labels(provider, model),
        )
        # A bounded key: values beyond the bounds share the "other" series but not this cache.
        if len(self._children) < 10_000:
            self._children[key] = children
        return children

    # -- background figures ------------------------------------------------------------------

    def watch_events(self, stats: Callable[[], Any]) -> None:
        """`stats()` returns running totals with the fields of `EVENT_OUTCOMES` and `pending`
        (the event bus's `BusStats`); totals become counter increments, pending a gauge.
        A process has one bus: a later call replaces the source (tests build many apps)."""
        with self._sources_lock:
            self._event_sources = [stats]
            self._event_seen = {}

    def watch_snapshot(self, figures: Callable[[], SnapshotFigures]) -> None:
        self._snapshot_source = figures

    def watch_upstream_pool(self, figures: Callable[[], PoolFigures]) -> None:
        self._pool_source = figures

    def refresh(self) -> None:
        """Read every watched source once; a failing source is logged and skipped."""
        for name, read in (
            ("event", self._refresh_events),
            ("snapshot", self._refresh_snapshot),
            ("upstream pool", self._refresh_pool),
        ):
            try:
                read()
            except Exception:
                log.exception("%s figures could not be read", name)

    def _refresh_events(self) -> None:
        if not self._event_sources:
            return
        pending = sum(self._event_totals(source) for source in list(self._event_sources))
        self.events_pending.set(pending)
        self._gauge_out("bricksllm_events_pending", pending)

    def _refresh_snapshot(self) -> None:
        if self._snapshot_source is not None:
            snapshot = self._snapshot_source()
            self.snapshot_age.set(snapshot.age_s)
            self.snapshot_keys.set(snapshot.keys)
            self._gauge_out("bricksllm_config_snapshot_age_seconds", snapshot.age_s)
            self._gauge_out("bricksllm_config_snapshot_keys", snapshot.keys)

    def _refresh_pool(self) -> None:
        if self._pool_source is not None:
            pool = self._pool_source()
            for state in ("in_use", "idle"):
                value = getattr(pool, state)
                self.upstream_connections.labels(state).set(value)
                self._gauge_out("bricksllm_upstream_connections", value, [f"state:{state}"])

    def _event_totals(self, source: Callable[[], Any]) -> int:
        stats = source()
        seen = self._event_seen.setdefault(id(source), {})
        for outcome in EVENT_OUTCOMES:
            total = int(getattr(stats, outcome, 0))
            delta = total - seen.get(outcome, 0)
            if delta > 0:
                self.events.labels(outcome).inc(delta)
                if self.statsd is not None:
                    self.statsd.count("bricksllm_events", delta, [f"outcome:{outcome}"])
            seen[outcome] = total
        return int(getattr(stats, "pending", 0))

    def _gauge_out(self, name: str, value: float, tags: list[str] | None = None) -> None:
        if self.statsd is not None:
            self.statsd.gauge(name, value, tags)

    def start_refresh(self, interval_s: float = 5.0, flush_s: float = FLUSH_INTERVAL_S) -> None:
        """Flush the tallies every `flush_s` and refresh the background figures every
        `interval_s`, in the background (a greenlet under gevent) until `stop()`; once a process."""
        if self._refreshing:
            return
        self._refreshing = True

        def loop() -> None:
            waited = 0.0
            while not self._stop.wait(flush_s):
                self._flush_logged()
                waited += flush_s
                if waited >= interval_s:
                    waited = 0.0
                    self.refresh()

        threading.Thread(target=loop, name="metrics-refresh", daemon=True).start()

    def _flush_logged(self) -> None:
        try:
            self.flush()
        except Exception:  # a metrics file that cannot be written: the next flush tries again
            log.exception("metrics could not be flushed")

    def stop(self) -> None:
        """Stop the background loop, and flush what it had not (the worker stops)."""
        self._stop.set()
        self._flush_logged()


def _add_observations(histogram: Any, counts: list[int], total: float) -> None:
    """What `counts[i]` calls of `histogram.observe()` with a sum of `total` would add, in one
    write per bucket touched. `_buckets` and `_sum` are prometheus-client's own fields (named in
    tests/unit/test_library_internals.py); its `observe()` writes a bucket and the sum per call."""
    if not any(counts):
        return
    for bucket, count in zip(histogram._buckets, counts, strict=True):
        if count:
            bucket.inc(count)
    histogram._sum.inc(total)


_current: Metrics | None = None
_current_lock = threading.Lock()
_enabled = True


def disable() -> None:
    """METRICS_ENABLED=false: requests are not observed (the wiring serves no /metrics)."""
    global _enabled
    _enabled = False


def is_enabled() -> bool:
    return _enabled


def flush() -> None:
    """Write this process's tallied requests to the series (at shutdown)."""
    if _current is not None:
        _current.flush()


def configure(statsd: StatsdSink | None) -> Metrics:
    """This process's metrics, made once at start (wiring.py, from the settings), with DogStatsD
    when STATS_PROVIDER=datadog."""
    global _current
    with _current_lock:
        if _current is None:
            _current = Metrics(statsd=statsd)
    return _current


def current() -> Metrics:
    """This process's metrics (Prometheus only when nothing configured them first)."""
    return _current or configure(None)


def bus_stats_fields() -> tuple[str, ...]:
    """The outcomes read from a `BusStats`; kept beside it so a renamed field fails a test."""
    from app.events.stats import BusStats

    names = {f.name for f in fields(BusStats)}
    return tuple(outcome for outcome in EVENT_OUTCOMES if outcome in names)
