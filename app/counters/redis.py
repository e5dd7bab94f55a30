"""Redis limit counters: `LimitCounters` shared by every worker and replica, at most one round trip a call.

Owns the Redis key layout, the two Lua scripts and the client factory. Each `admit` and each
`settle` is one EVALSHA (redis-py's `register_script` reloads the script on NOSCRIPT), so the check
and the take are atomic across processes; in the proxy, the calls of one hub turn share one
pipelined round trip (`pipelining.py`). Window names and TTLs are computed here in Python from the
caller's `now`, which keeps the scripts small and lets tests roll windows without sleeping.

Keys (`<p>` = key prefix, `<w>` = `<scope>:<unit>:<window start>` or `<scope>:total`):
- `<p>rl:<w>`  string: requests admitted in a rate window; expires after its window.
- `<p>cs:<w>`  hash {spend, reserved}: settled spend and open reservations of a cost window.
- `<p>cr:<w>`  zset: open reservations, member `<amount>:<id>`, score = expiry time. Expired
  members are removed (and subtracted from `reserved`) by the admit script before it checks.
Cost keys expire a grace period after their window ends; total windows never expire.
Connection errors and timeouts surface as `CountersUnavailable`; the caller applies the
fail-open/fail-closed policy.

Redis Cluster (`REDIS_CLUSTER=true`): a script may only touch keys of one slot, and one admit
touches the windows of a key, its user and more; a scope's counter must keep one name whatever
call it appears in. So every key carries the same hash tag, the prefix `{bricks}:`: all limit
counters live in one slot (on one primary, with its replicas for failover). Correct and atomic;
the cluster adds availability, not sharding, to the counters (which are a few small keys per
key, and one round trip per request).

Redis Sentinel (`REDIS_SENTINEL_MASTER`): the client follows the master the sentinels name
(`sentinel.py`); keys and scripts are unchanged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gevent
import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.commands.core import Script
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.typing import EncodableT

from app.counters.base import (
    DEFAULT_RESERVATION_TTL_S,
    CostLimit,
    CountersUnavailable,
    Denial,
    RateLimit,
    Reservation,
    Unseeded,
    admission_windows,
    check_amount,
    check_distinct,
    cost_window,
    cost_window_end,
    denial,
)
from app.counters.pipelining import ScriptPipeline
from app.domain.windows import window_end

# A replica promoted mid-failover answers writes with READONLY: as unavailable as a dead socket.
_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)
# Rate keys outlive their window a little so replicas with skewed clocks still share one counter.
_RATE_GRACE_S = 60
# Cost keys outlive their window by the reservation ttl and this, so late settles still land.
_COST_GRACE_S = 60

# KEYS: rate keys (ARGV[1] of them), then a (hash, zset) pair per cost limit.
# ARGV: n_rates, now, expiry, estimate, member, then (limit, ttl) per rate and (limit, ttl) per cost;
# ttl "0" = never expires; last, "1" to require seeded cost hashes. Returns 0 when admitted, -j
# when cost hash j is not seeded (nothing taken), else the 1-based index of the failing limit.
_ADMIT_LUA = """
local nr = tonumber(ARGV[1])
local now = ARGV[2]
local est = tonumber(ARGV[4])
local nc = (#KEYS - nr) / 2
if ARGV[#ARGV] == '1' then
  for j = 1, nc do
    if redis.call('HEXISTS', KEYS[nr + 2 * j - 1], 'seeded') == 0 then return -j end
  end
end
for i = 1, nr do
  if tonumber(redis.call('GET', KEYS[i]) or 0) >= tonumber(ARGV[4 + 2 * i]) then return i end
end
local base = 5 + 2 * nr
for j = 1, nc do
  local h, z = KEYS[nr + 2 * j - 1], KEYS[nr + 2 * j]
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  if #gone > 0 then
    local sum = 0
    for _, m in ipairs(gone) do sum = sum + tonumber(string.match(m, '^%d+')) end
    redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
    redis.call('HINCRBY', h, 'reserved', -sum)
  end
  local v = redis.call('HMGET', h, 'spend', 'reserved')
  local used = (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0)
  local limit = tonumber(ARGV[base + 2 * j - 1])
  if used >= limit or used + est > limit then return nr + j end
end
for i = 1, nr do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ARGV[5 + 2 * i]) end
end
if est > 0 then
  for j = 1, nc do
    local h, z, ttl = KEYS[nr + 2 * j - 1], KEYS[nr + 2 * j], ARGV[base + 2 * j]
    redis.call('HINCRBY', h, 'reserved', ARGV[4])
    redis.call('ZADD', z, ARGV[3], ARGV[5])
    if ttl ~= '0' then
      redis.call('EXPIRE', h, ttl, 'NX')
      redis.call('EXPIRE', z, ttl, 'NX')
    end
  end
end
return 0
"""

# KEYS: a (hash, zset) pair per cost window. ARGV: member ('' = none), -reserved amount, actual,
# then a ttl per window for a hash this call creates ("0" = never expires).
_SETTLE_LUA = """
for j = 1, #KEYS / 2 do
  local h = KEYS[2 * j - 1]
  if ARGV[1] ~= '' and redis.call('ZREM', KEYS[2 * j], ARGV[1]) == 1 then
    redis.call('HINCRBY', h, 'reserved', ARGV[2])
  end
  redis.call('HINCRBY', h, 'spend', ARGV[3])
  if ARGV[3 + j] ~= '0' then redis.call('EXPIRE', h, ARGV[3 + j], 'NX') end
end
return 0
"""


# KEYS: one cost hash. ARGV: spend from the record of truth, ttl ("0" = never expires).
# The larger of that and the spend settled since the hash was lost; marks the hash seeded once.
_SEED_LUA = """
if redis.call('HEXISTS', KEYS[1], 'seeded') == 1 then return 0 end
local current = tonumber(redis.call('HGET', KEYS[1], 'spend') or 0)
if tonumber(ARGV[1]) > current then redis.call('HSET', KEYS[1], 'spend', ARGV[1]) end
redis.call('HSET', KEYS[1], 'seeded', 1)
if ARGV[2] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX') end
return 1
"""


class RedisCounters:
    """`LimitCounters` on Redis; all key names start with `key_prefix`. With `require_seeded`,
    `admit` answers `Unseeded` for a cost window whose hash `seed` has not marked (a new window,
    or one Redis lost)."""

    require_seeded = False

    def __init__(
        self,
        client: redis.Redis | RedisCluster,
        key_prefix: str = "bricks:",
        reservation_ttl_s: float = DEFAULT_RESERVATION_TTL_S,
        pipeline_wait_s: float | None = None,
    ) -> None:
        """`pipeline_wait_s` set (under gevent only): calls made in the same hub turn share one
        pipelined round trip (`pipelining.py`), each caller waiting at most that long."""
        self._client = client
        if isinstance(client, RedisCluster):
            key_prefix = cluster_prefix(key_prefix)  # one slot for every script's keys
        self._prefix = key_prefix
        self._reservation_ttl_s = reservation_ttl_s
        self._pipeline = (
            None
            if pipeline_wait_s is None or isinstance(client, RedisCluster)
            else ScriptPipeline(client, pipeline_wait_s)
        )
        # Registering only hashes the script locally; nothing connects until the first call.
        self._admit = client.register_script(_ADMIT_LUA)
        self._settle = client.register_script(_SETTLE_LUA)
        self._seed = client.register_script(_SEED_LUA)

    def admit(
        self,
        rates: Sequence[RateLimit],
        costs: Sequence[CostLimit],
        estimate_micros: int,
        now: float,
    ) -> Reservation | Denial | Unseeded:
        """Take a slot of every rate limit and reserve the estimate on every cost limit, or nothing."""
        rate_ids, cost_ids, reservation_id = admission_windows(rates, costs, estimate_micros, now)
        if rates or costs:
            member = f"{estimate_micros}:{reservation_id}"
            keys, head, limits = self._admit_call(rates, rate_ids, costs, cost_ids, now)
            args = [*head, estimate_micros, member, *limits, int(self.require_seeded)]
            failed = self._run(self._admit, keys, args)
            if failed < 0:
                return Unseeded(costs[-failed - 1])
            if failed:  # the 1-based index of the failing limit: rates first, then costs
                index = failed - 1
                limit = rates[index] if index < len(rates) else costs[index - len(rates)]
                return denial(limit, now)
        return Reservation(reservation_id, tuple(cost_ids), estimate_micros)

    def settle(self, reservation: Reservation, actual_micros: int) -> None:
        """Release the reservation and record the actual cost in the windows it was taken in."""
        check_amount(actual_micros)
        member = (
            f"{reservation.amount_micros}:{reservation.id}" if reservation.amount_micros else ""
        )
        self._add(
            reservation.windows, member, reservation.amount_micros, actual_micros, time.time()
        )

    def add_spend(self, costs: Sequence[CostLimit], amount_micros: int, now: float) -> None:
        """Record spend that had no reservation in the current window of each cost limit."""
        check_amount(amount_micros)
        windows = [cost_window(cost, now) for cost in costs]
        check_distinct(windows)
        self._add(windows, "", 0, amount_micros, now)

    def seed(self, cost: CostLimit, now: float, spend_micros: int) -> None:
        """Mark `cost`'s current window seeded, its spend at least `spend_micros`; once."""
        check_amount(spend_micros)
        wid = cost_window(cost, now)
        self._run(self._seed, [f"{self._prefix}cs:{wid}"], [spend_micros, self._cost_ttl(wid, now)])

    def spend(self, cost: CostLimit, now: float) -> int:
        """Recorded (settled) spend in the current window of `cost`."""
        key = f"{self._prefix}cs:{cost_window(cost, now)}"
        try:
            value = self._client.hget(key, "spend")
        except _UNAVAILABLE as exc:
            raise CountersUnavailable(str(exc)) from exc
        return int(value) if value else 0

    def ping(self) -> bool:
        """True when Redis answers now (readiness); never raises."""
        try:
            return bool(self._client.ping())
        except Exception:
            return False

    def _admit_call(
        self,
        rates: Sequence[RateLimit],
        rate_ids: Sequence[str],
        costs: Sequence[CostLimit],
        cost_ids: Sequence[str],
        now: float,
    ) -> tuple[list[str], list[EncodableT], list[EncodableT]]:
        """Keys, the leading arguments (n_rates, now, expiry) and the (limit, ttl) pairs of the admit
        script; the estimate and member go between the last two."""
        prefix = self._prefix
        keys = [f"{prefix}rl:{wid}" for wid in rate_ids]
        limits: list[EncodableT] = []
        for rate in rates:
            limits += [rate.limit, _rate_ttl(rate, now)]
        for cost, wid in zip(costs, cost_ids, strict=True):
            keys += [f"{prefix}cs:{wid}", f"{prefix}cr:{wid}"]
            limits += [cost.limit_micros, self._cost_ttl(wid, now)]
        return keys, [len(rates), repr(now), repr(now + self._reservation_ttl_s)], limits

    def _add(
        self, windows: Sequence[str], member: str, reserved: int, actual: int, now: float
    ) -> None:
        if not windows:
            return
        keys: list[str] = []
        for wid in windows:
            keys += [f"{self._prefix}cs:{wid}", f"{self._prefix}cr:{wid}"]
        args: list[EncodableT] = [member, -reserved, actual]
        args += [self._cost_ttl(wid, now) for wid in windows]
        self._run(self._settle, keys, args)

    def _cost_ttl(self, window: str, now: float) -> int:
        end = cost_window_end(window)
        if end is None:
            return 0
        grace = math.ceil(self._reservation_ttl_s) + _COST_GRACE_S
        return max(0, math.ceil(end - now)) + grace

    def _run(self, script: Script, keys: list[str], args: list[EncodableT]) -> int:
        try:
            if self._pipeline is not None:
                return int(self._pipeline.run(script, keys, args))
            return int(script(keys=keys, args=args))
        except _UNAVAILABLE as exc:
            raise CountersUnavailable(str(exc)) from exc
        except gevent.Timeout as exc:
            raise CountersUnavailable("Redis did not answer in time") from exc


def _rate_ttl(rate: RateLimit, now: float) -> int:
    return window_end(rate.unit, now) - math.floor(now) + _RATE_GRACE_S


def build_redis_counters(settings: Any, key_prefix: str = "bricks:") -> RedisCounters:
    """The proxy's counters from the settings: TLS, username and database from REDIS_URL,
    RedisCluster with hash-tagged keys when REDIS_CLUSTER=true, the sentinels' master when
    REDIS_SENTINEL_MASTER is set. Calls of one hub turn share a pipelined round trip, except on a
    cluster (its client routes each script by slot)."""
    options = RedisOptions.of(settings)
    client = make_client(options)
    if isinstance(client, RedisCluster):
        return RedisCounters(client, key_prefix=key_prefix)  # hash-tagged by RedisCounters
    wait_s = 2 * max(options.read_timeout_s, options.write_timeout_s) + 1
    return RedisCounters(client, key_prefix=key_prefix, pipeline_wait_s=wait_s)


def _has_hash_tag(prefix: str) -> bool:
    start = prefix.find("{")
    return start >= 0 and prefix.find("}", start + 2) > start


def cluster_prefix(prefix: str = "bricks:") -> str:
    """`bricks:` -> `{bricks}:`: every key of the prefix hashes to the same cluster slot."""
    return prefix if _has_hash_tag(prefix) else "{" + prefix.rstrip(":") + "}:"


@dataclass(frozen=True)
class RedisOptions:
    """How to reach Redis, from the REDIS_* settings (or REDIS_URL)."""

    hosts: tuple[str, ...]
    port: int = 6379
    password: str = field(default="", repr=False)
    username: str = ""
    db: int = 0
    tls: bool = False
    tls_verify: bool = True
    cluster: bool = False
    sentinel_master: str = ""  # set: `hosts` are the sentinels of the master of this name
    sentinel_password: str = field(default="", repr=False)
    read_timeout_s: float = 1.0
    write_timeout_s: float = 0.5
    max_connections: int = 50
    pool_timeout_s: float = 1.0

    @classmethod
    def of(cls, settings: Any) -> RedisOptions:
        return cls(
            hosts=tuple(settings.redis_hosts), port=settings.redis_port,
            password=settings.redis_password, username=settings.redis_username,
            db=settings.redis_db, tls=settings.redis_tls, tls_verify=settings.redis_tls_verify,
            cluster=settings.redis_cluster, sentinel_master=settings.redis_sentinel_master,
            sentinel_password=settings.redis_sentinel_password,
            read_timeout_s=settings.redis_read_timeout,
            write_timeout_s=settings.redis_write_timeout, max_connections=settings.redis_pool_size,
        )  # fmt: skip

    def connection_kwargs(self) -> dict[str, Any]:
        """What every connection gets: credentials, timeouts, TLS, no retries."""
        kwargs: dict[str, Any] = dict(
            password=self.password or None,
            username=self.username or None,
            socket_timeout=max(self.read_timeout_s, self.write_timeout_s),
            socket_connect_timeout=self.write_timeout_s,
            socket_keepalive=True,
        )
        if self.tls:
            kwargs.update(ssl=True, ssl_cert_reqs="required" if self.tls_verify else "none")
        return kwargs


def make_client(options: RedisOptions) -> redis.Redis | RedisCluster:
    """A Redis client; a RedisCluster one seeded with every host when `options.cluster`; the
    master's client, found through the sentinels `hosts`, when `options.sentinel_master`."""
    if options.sentinel_master:
        from app.counters.sentinel import make_sentinel_client

        sentinels = [(_host(h), _port(h, options.port)) for h in options.hosts if h.strip()]
        return make_sentinel_client(options, sentinels, options.pool_timeout_s)
    if not options.cluster:
        return make_redis_client(
            options.hosts, options.port, options.password or None, options.read_timeout_s,
            options.write_timeout_s, options.max_connections, options.pool_timeout_s,
            username=options.username, db=options.db, tls=options.tls,
            tls_verify=options.tls_verify,
        )  # fmt: skip
    kwargs = options.connection_kwargs()
    nodes = [
        ClusterNode(_host(h), _port(h, options.port))  # type: ignore[no-untyped-call]
        for h in options.hosts
        if h.strip()
    ]
    return RedisCluster(
        startup_nodes=nodes,
        # A command never retries: a retried admit that had already run would take a second slot.
        retry=Retry(NoBackoff(), 0),
        cluster_error_retry_attempts=0,
        max_connections=options.max_connections,
        **kwargs,
    )


def _host(entry: str) -> str:
    return entry.strip().rsplit(":", 1)[0] if ":" in entry.strip() else entry.strip()


def _port(entry: str, default: int) -> int:
    tail = entry.strip().rsplit(":", 1)[-1]
    return int(tail) if ":" in entry and tail.isdigit() else default


def make_redis_client(
    hosts: str | Sequence[str],
    port: int,
    password: str | None,
    read_timeout_s: float,
    write_timeout_s: float,
    max_connections: int = 50,
    pool_timeout_s: float = 1.0,
    username: str = "",
    db: int = 0,
    tls: bool = False,
    tls_verify: bool = True,
) -> redis.Redis:
    """A client that never hangs: a blocking pool of `max_connections` (waiting at most
    `pool_timeout_s` for a free one), socket timeouts on connect and on every command, no retries.

    `hosts` is `REDIS_HOSTS` (comma separated, as in BricksLLM); the first host is used.
    A command's socket timeout is the larger of the read and write timeouts (redis-py has one
    timeout for both directions); connecting is bounded by the write timeout.
    """
    host = _first_host(hosts)
    tls_kwargs: dict[str, Any] = {}
    if tls:  # rediss://: TLS, verifying the certificate unless REDIS_TLS_VERIFY=false
        tls_kwargs = dict(
            connection_class=redis.SSLConnection,
            ssl_cert_reqs="required" if tls_verify else "none",
        )
    pool = redis.BlockingConnectionPool(  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        host=host,
        port=port,
        db=db,
        username=username or None,
        password=password or None,
        **tls_kwargs,
        socket_timeout=max(read_timeout_s, write_timeout_s),
        socket_connect_timeout=write_timeout_s,
        socket_keepalive=True,
        # No retries: a retried admit that had already run would take a second slot.
        retry=Retry(NoBackoff(), 0),
        max_connections=max_connections,
        timeout=pool_timeout_s,
    )
    return redis.Redis(connection_pool=pool)


def _first_host(hosts: str | Sequence[str]) -> str:
    names = hosts.split(",") if isinstance(hosts, str) else list(hosts)
    for name in names:
        if name.strip():
            return name.strip()
    raise ValueError("REDIS_HOSTS names no host")
