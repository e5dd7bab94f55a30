"""Counter scripts called together leave together: one pipelined Redis round trip per hub turn.

Under gevent, many requests reach the counters in the same turn of the event loop. Each EVALSHA on
its own takes a pool connection, a send and a receive: a quarter of a proxy worker's CPU at 64
concurrent requests. Here the calls queued during one turn are sent by one greenlet in one pipeline
(not a transaction: each script stays atomic on its own), and every caller waits for its own answer,
so admit and settle keep their meaning (atomic per call, settled before the response ends).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gevent
import redis
from gevent.event import AsyncResult
from redis.commands.core import Script
from redis.exceptions import NoScriptError
from redis.typing import EncodableT


@dataclass(frozen=True)
class _Call:
    script: Script
    keys: list[str]
    args: list[EncodableT]
    answer: AsyncResult


class ScriptPipeline:
    """Queues script calls and flushes them in one pipeline from a greenlet of their own."""

    def __init__(self, client: redis.Redis, wait_s: float) -> None:
        self._client = client
        self._wait_s = wait_s  # a bound on a caller's wait, beyond the client's socket timeouts
        self._queue: list[_Call] = []

    def run(self, script: Script, keys: list[str], args: list[EncodableT]) -> Any:
        """The script's answer; raises what the call raised (a Redis error, or gevent's Timeout)."""
        call = _Call(script, keys, args, AsyncResult())
        self._queue.append(call)
        if len(self._queue) == 1:
            gevent.spawn(self._flush)  # runs once the callers of this turn have queued theirs
        return call.answer.get(timeout=self._wait_s)

    def _flush(self) -> None:
        calls, self._queue = self._queue, []
        pipe = self._client.pipeline(transaction=False)
        for call in calls:
            # evalsha, not Script(client=pipe): a pipeline with scripts asks SCRIPT EXISTS first,
            # a second round trip per flush. A server that lost its scripts answers NOSCRIPT.
            pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
        try:
            answers = pipe.execute(raise_on_error=False)
        except Exception as exc:  # the connection failed: every call of the batch failed with it
            for call in calls:
                call.answer.set_exception(exc)
            return
        for call, answer in zip(calls, answers, strict=True):
            if isinstance(answer, NoScriptError):
                answer = _run_alone(call)  # loads the script again (a restart, a SCRIPT FLUSH)
            if isinstance(answer, BaseException):
                call.answer.set_exception(answer)
            else:
                call.answer.set(answer)


def _run_alone(call: _Call) -> Any:
    try:
        return call.script(keys=call.keys, args=call.args)
    except Exception as exc:  # handed to the caller, as a direct call would raise it
        return exc
