"""Running a failover route: pure building blocks the proxy pipeline calls (no Flask, no sockets).

Read in this order:
- `body.py`     the client's JSON with a step's model and requestParams applied (bytes per step)
- `outcome.py`  what an attempt reports (`AttemptResult`) and what it means (`classify`)
- `backoff.py`  the wait between tries: constant or exponential with jitter, `Retry-After`
- `plan.py`     the attempts a route allows: steps in order, each `retries + 1` times
- `runner.py`   `RouteRunner`: the loop over the plan with an injected attempt, sleep and clock
- `cache/`      the response cache: key, backends, single-flight, replay of an answer as SSE
"""
