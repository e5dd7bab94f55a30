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
from redis.exceptions import NoScriptError, ResponseError
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
        try:
            answers = self._send(calls)
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

    def _send(self, calls: list[_Call]) -> list[Any]:
        """EVALSHA every call on one pooled connection in one write, then read the answers in order.

        Straight on the connection rather than through redis-py's `Pipeline`, whose command
        objects, retry wrapper and per-command packing were half of this flush's CPU. evalsha, not
        the `Script` object: a pipeline with scripts asks SCRIPT EXISTS first. A server that lost
        its scripts answers NOSCRIPT, and that call is run alone.
        """
        pool = self._client.connection_pool
        connection: Any = pool.get_connection()  # redis-py leaves its connections untyped
        try:
            connection.send_packed_command([b"".join(_evalsha_command(call) for call in calls)])
            return [_read_answer(connection) for _ in calls]
        except BaseException:
            connection.disconnect()  # unread answers would be read by the connection's next user
            raise
        finally:
            pool.release(connection)


def _evalsha_command(call: _Call) -> bytes:
    """The call as a RESP array of bulk strings."""
    words = [b"EVALSHA", call.script.sha.encode(), str(len(call.keys)).encode()]
    words += [_word(item) for item in (*call.keys, *call.args)]
    parts = [b"*%d\r\n" % len(words)]
    for word in words:
        parts += [b"$%d\r\n" % len(word), word, b"\r\n"]
    return b"".join(parts)


def _word(item: EncodableT) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, float):
        return repr(item).encode()
    return str(item).encode()


def _read_answer(connection: Any) -> Any:
    """One answer; an error reply (the script failed, NOSCRIPT) is that call's own answer."""
    try:
        return connection.read_response()
    except ResponseError as exc:
        return exc


def _run_alone(call: _Call) -> Any:
    try:
        return call.script(keys=call.keys, args=call.args)
    except Exception as exc:  # handed to the caller, as a direct call would raise it
        return exc
