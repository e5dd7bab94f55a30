"""Stage 8: hand the upstream answer to the client, a whole body or an SSE stream event by event.

The relay moves bytes and observes what the provider says (its usage, the model, the text of a
stream); what that costs, and what to count when the provider said nothing, is accounting's.
A stream is a generator that owns the upstream response: its `finally` closes the upstream and
settles the accounting, also when the client goes away (GeneratorExit). An upstream that dies
mid-stream ends the client's stream with an error event, never a clean `[DONE]`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator
from typing import Any

import orjson

from app.errors import ProxyError, UpstreamError
from app.policies.engine import PolicyUnavailable
from app.providers import sse
from app.providers.base import PRICED_KINDS, ProviderAdapter, StreamState
from app.proxy.context import ProxyResponse, error_response
from app.proxy.outcome import Answer, Outcome
from app.proxy.outgoing import OutgoingCall
from app.proxy.response_policy import StreamFilter
from app.proxy.upstream import UpstreamResponse

log = logging.getLogger(__name__)
Finish = Callable[[Outcome], None]  # accounting.finish, bound to the request


def relay_body(call: OutgoingCall, upstream: UpstreamResponse, finish: Finish) -> ProxyResponse:
    """Read the whole body, observe its usage, settle, then answer."""
    try:
        body = upstream.read()
    except UpstreamError as error:
        finish(Outcome(error.status, error.message))
        return error_response(error, call.adapter)
    outcome = _observe_body(call, upstream.status, body)
    if call.response_redaction is not None:
        try:
            body = outcome.response_body = call.response_redaction.body(body)
        except PolicyUnavailable:
            refused = ProxyError(503, "the answer cannot be checked by the policy right now")
            outcome.status, outcome.error = refused.status, refused.message
            finish(outcome)  # the upstream answered: what it used is billed
            return error_response(refused, call.adapter)
    finish(outcome)
    return ProxyResponse(upstream.status, upstream.headers, body)


def _observe_body(call: OutgoingCall, status: int, body: bytes) -> Outcome:
    outcome = Outcome(status, answer=Answer.BODY, response_body=body)
    kind = call.operation.kind
    if not 200 <= status < 300 or kind not in PRICED_KINDS:
        return outcome  # pass-through answers (files, assistants...) are never parsed
    parsed = _json_object(body)
    if parsed is None:
        return outcome
    model = parsed.get("model")
    if isinstance(model, str) and model:
        outcome.model = model
    outcome.usage = call.adapter.usage_from_body(call.operation, parsed)
    if outcome.usage is None and kind.produces_text:
        # An answer without usage (Anthropic's legacy completions): its text is read as the
        # adapter reads one stream event, for accounting to count.
        state = StreamState()
        call.adapter.observe_stream_event(state, parsed)
        outcome.completion_parts = state.completion_parts
    return outcome


def _json_object(body: bytes) -> dict[str, Any] | None:
    if not body.startswith(b"{"):
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


class StreamsInFlight:
    """The upstream streams a worker is relaying, so that a shutdown can end them while there is
    still time to record them: a stream the arbiter kills at the end of the grace period would
    leave no event. `cut_all` closes every upstream; each relay then sends the client an error
    event and settles what was relayed so far, as for an upstream that died."""

    def __init__(self) -> None:
        self._open: dict[int, UpstreamResponse] = {}  # by identity: responses need not hash
        self.shutting_down = False

    def add(self, upstream: UpstreamResponse) -> None:
        self._open[id(upstream)] = upstream

    def discard(self, upstream: UpstreamResponse) -> None:
        self._open.pop(id(upstream), None)

    def cut_all(self) -> int:
        self.shutting_down = True
        cut = list(self._open.values())
        for upstream in cut:
            upstream.abort()
        return len(cut)


def relay_stream(
    call: OutgoingCall,
    upstream: UpstreamResponse,
    finish: Finish,
    hide_usage: bool,
    streams: StreamsInFlight,
) -> ProxyResponse:
    headers = [(k, v) for k, v in upstream.headers if k.lower() != "content-type"]
    headers += [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                ("X-Accel-Buffering", "no")]  # fmt: skip
    stream = _stream(call, upstream, finish, hide_usage, streams)

    def never_started() -> None:
        streams.discard(upstream)
        upstream.abort()
        finish(
            _stream_outcome(
                call.adapter, StreamState(), 499, "client disconnected before the stream"
            )
        )

    return ProxyResponse(upstream.status, headers, OwnedStream(stream, never_started))


class OwnedStream:
    """Wraps the stream generator so that a close before the first read still cleans up: a
    generator closed before it started never runs its `finally`."""

    def __init__(
        self, generator: Generator[bytes, None, None], on_close_unstarted: Callable[[], None]
    ) -> None:
        self._generator = generator
        self._on_close_unstarted = on_close_unstarted
        self._started = False

    def __iter__(self) -> Iterator[bytes]:
        self._started = True
        return self._generator

    def close(self) -> None:
        if not self._started:
            self._started = True
            self._on_close_unstarted()
        self._generator.close()


def _stream(
    call: OutgoingCall,
    upstream: UpstreamResponse,
    finish: Finish,
    hide_usage: bool,
    streams: StreamsInFlight,
) -> Generator[bytes, None, None]:
    adapter = call.adapter
    state = StreamState()
    status, error = 499, "client disconnected"
    completed = False
    redaction = call.response_redaction.stream() if call.response_redaction else None
    streams.add(upstream)
    try:
        for received in upstream.events():
            # What arrived together is written together (one send); nothing waits for more.
            relayed: list[bytes] = []
            for raw in received:
                data = sse.event_data(raw)
                if data is not None and adapter.is_stream_end(data):
                    _observe(adapter, state, data, hide_usage)  # a terminal event may carry usage
                    finish(_stream_outcome(adapter, state, upstream.status, ""))
                    completed = True
                    _add(relayed, raw, redaction)
                    yield b"".join(relayed)
                    upstream.release()
                    return
                if _observe(adapter, state, data, hide_usage):
                    _add(relayed, raw, redaction)
            if relayed:
                yield relayed[0] if len(relayed) == 1 else b"".join(relayed)
        status, error = 502, "upstream stream ended early"
        yield adapter.stream_error
    except Exception as exc:  # a read failure, or an event the adapter could not read
        message = exc.message if isinstance(exc, UpstreamError) else None
        status, error = 502, message or f"upstream stream failed: {type(exc).__name__}"
        if isinstance(exc, PolicyUnavailable):
            status, error = 503, "the answer cannot be checked by the policy right now"
        if streams.shutting_down:
            status, error = 503, "stream cut: the gateway shut down before it ended"
        yield adapter.stream_error
    finally:
        streams.discard(upstream)
        if not completed:
            upstream.abort()
            finish(_stream_outcome(adapter, state, status, error))


def _add(relayed: list[bytes], raw: bytes, redaction: StreamFilter | None) -> None:
    """One event for the client: as received, or as the policy's redaction makes it."""
    if redaction is None:
        relayed.append(raw)
    else:
        relayed.extend(redaction.events(raw))


def _observe(
    adapter: ProviderAdapter, state: StreamState, data: bytes | None, hide_usage: bool
) -> bool:
    """Read usage from one event; False for a usage-only event the client did not ask for."""
    if data and (adapter.reads_every_event or sse.may_carry_usage(data)):
        parsed = sse.parse_json_data(data)
        usage_only = parsed is not None and adapter.observe_stream_event(state, parsed)
        return not (usage_only and hide_usage)
    if data:
        # Parsed only if the stream ends without usage; most events pass untouched.
        state.unparsed.append(data)
    return True


def _stream_outcome(
    adapter: ProviderAdapter, state: StreamState, status: int, error: str
) -> Outcome:
    """What the stream said: the provider's usage, or the text relayed for accounting to count."""
    if state.usage is None:
        for data in state.unparsed:
            parsed = sse.parse_json_data(data)
            if parsed is not None:
                adapter.observe_stream_event(state, parsed)
    return Outcome(
        status,
        error,
        answer=Answer.STREAM,
        usage=state.usage,
        model=state.model,
        completion_parts=state.completion_parts,
        started_usage=state.started_usage,
    )
