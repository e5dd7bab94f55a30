"""The route response cache (`cacheConfig.enabled`).

- `base.py`    `CachedAnswer` and the `ResponseCache` protocol both backends implement
- `keys.py`    the cache key: route, key scope and the whole normalized request, hashed
- `memory.py`  in-process backend (no `REDIS_HOSTS`): bounded, least recently used evicted
- `redis.py`   Redis backend: shared by every worker and replica
- `flight.py`  `cached_call`: look up, or make one upstream call for identical requests in flight
- `sse.py`     a cached whole chat answer replayed as an OpenAI SSE stream
- `factory.py` the backend the settings choose
"""
