"""Stage 7 for a failover route: the steps' calls tried in order, with retries and backoff, until
one succeeds (`app/routing/runner.py` decides what comes next after each attempt).

An attempt is one outgoing call sent as a provider path sends it. A streamed answer is only taken
once its first events arrived: a stream that breaks before its first byte reached the client fails
over like a refused connection; after that it is relayed as any other stream. Every attempt
leaves its own event (DECISIONS.md): the ones not relayed here, the relayed one through the usual
accounting (which also settles the reservation held for the whole route).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from app.domain.routes import Route, RouteStep
from app.errors import ProxyError, UpstreamError, UpstreamRefused, UpstreamTimeout
from app.proxy.context import ProxyResponse, RequestContext, error_response
from app.proxy.outcome import Outcome
from app.proxy.outgoing import OutgoingCall
from app.proxy.relay import Finish, StreamsInFlight, relay_body, relay_stream
from app.proxy.send import send
from app.proxy.upstream import Upstream, UpstreamResponse
from app.routing.backoff import parse_retry_after
from app.routing.outcome import AttemptResult, Failure, answered, failed
from app.routing.runner import RouteRunner
from app.services.clock import new_id

PublishAttempt = Callable[[RequestContext, Outcome], None]


@dataclass
class _Try:
    """One attempt as this module saw it, for its event."""

    call: OutgoingCall
    upstream: UpstreamResponse | None = None
    hide_usage: bool = False
    error: UpstreamError | None = None


def run_route(
    ctx: RequestContext,
    route: Route,
    calls: list[OutgoingCall],
    upstream: Upstream,
    finish: Finish,
    publish_attempt: PublishAttempt,
    deadline_s: float,
    streams: StreamsInFlight,
) -> ProxyResponse:
    call_of = {id(step): call for step, call in zip(route.steps, calls, strict=True)}
    tries: list[_Try] = []

    def attempt(step: RouteStep, _body: bytes, deadline: float) -> AttemptResult[UpstreamResponse]:
        call = replace(call_of[id(step)], timeout_s=max(0.001, deadline - time.monotonic()))
        tried = _attempt(call, upstream)
        tries.append(tried)
        return _result(tried)

    # Each step's call already holds its body (route_steps.py): the runner need not make one.
    runner = RouteRunner(route, attempt, release=lambda response: response.abort(),
                         step_body=lambda _request, _step: b"")  # fmt: skip
    result = runner.run(ctx.parsed or {}, time.monotonic() + deadline_s).result
    relayed = result.response if result is not None else None
    chosen = next((t for t in tries if relayed is not None and t.upstream is relayed), tries[-1])
    for tried in tries:
        if tried is not chosen:
            publish_attempt(_attempt_context(ctx, tried.call), _failed_outcome(tried))
    ctx.call, ctx.endpoint, ctx.adapter = chosen.call, chosen.call.endpoint, chosen.call.adapter
    if chosen.upstream is None:
        error = chosen.error or UpstreamError("no step of the route answered")
        finish(Outcome(error.status, error.message))
        return error_response(error, chosen.call.adapter)
    if chosen.upstream.is_event_stream:
        return relay_stream(chosen.call, chosen.upstream, finish, chosen.hide_usage, streams)
    return relay_body(chosen.call, chosen.upstream, finish)


def _attempt(call: OutgoingCall, upstream: Upstream) -> _Try:
    try:
        response, hide_usage = send(call, upstream)
        if response.is_event_stream and 200 <= response.status < 300:
            response = PrimedStream(response)  # its first events, or the failure that ends it
    except UpstreamError as error:
        return _Try(call, error=error)
    return _Try(call, response, hide_usage)


def _result(tried: _Try) -> AttemptResult[UpstreamResponse]:
    if tried.upstream is None:
        error = tried.error
        if isinstance(error, UpstreamTimeout):
            return failed(Failure.TIMEOUT)
        return failed(
            Failure.REFUSED_ADDRESS if isinstance(error, UpstreamRefused) else Failure.CONNECTION
        )
    headers = dict((name.lower(), value) for name, value in tried.upstream.headers)
    retry_after = parse_retry_after(headers.get("retry-after"), time.time())
    return answered(tried.upstream.status, tried.upstream, retry_after)


def _attempt_context(ctx: RequestContext, call: OutgoingCall) -> RequestContext:
    """The context of an attempt that was not relayed: its own event id, step and model."""
    return replace(
        ctx, event_id=new_id(), call=call, endpoint=call.endpoint, adapter=call.adapter,
        model=call.model, reservation=None,
    )  # fmt: skip


def _failed_outcome(tried: _Try) -> Outcome:
    if tried.upstream is not None:
        return Outcome(tried.upstream.status, "route attempt failed; the route tried another")
    error = tried.error or ProxyError(502, "upstream unreachable")
    return Outcome(error.status, error.message)


class PrimedStream:
    """An event-stream answer whose first events were read before the route committed to it; they
    are handed out first. A stream that ends or breaks before any event raises on creation."""

    def __init__(self, response: UpstreamResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers = response.headers
        self._events = response.events()
        try:
            self._first = next(self._events)
        except StopIteration:
            response.abort()
            raise UpstreamError("upstream stream ended before its first event") from None
        except UpstreamError:
            response.abort()
            raise

    @property
    def is_event_stream(self) -> bool:
        return True

    def read(self) -> bytes:
        return b"".join(self._first) + b"".join(b"".join(batch) for batch in self._events)

    def events(self) -> Iterator[list[bytes]]:
        yield self._first
        yield from self._events

    def release(self) -> None:
        self._response.release()

    def abort(self) -> None:
        self._response.abort()
