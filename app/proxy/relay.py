"""Stage 6: hand the upstream answer to the client, a whole body or an SSE stream event by event.

A stream is a generator that owns the upstream response: its `finally` closes the upstream and
settles the accounting, also when the client goes away (GeneratorExit). An upstream that dies
mid-stream ends the client's stream with an error event, never a clean `[DONE]`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator
from typing import Any

import orjson

from app.errors import ProxyError
from app.providers import sse
from app.providers.base import ProviderAdapter, StreamState, Usage
from app.providers.costs import PRICED_KINDS, Pricer
from app.proxy.context import ProxyResponse, RequestContext, error_response
from app.proxy.upstream import abort, read_events, response_headers

log = logging.getLogger(__name__)
Finish = Callable[[RequestContext, int, Usage | None, str], None]  # accounting.finish, bound


def relay_body(ctx: RequestContext, upstream: Any, pricer: Pricer, finish: Finish) -> ProxyResponse:
    """Read the whole body, price it from its usage, settle, then answer."""
    try:
        body = upstream.read()
    except Exception as exc:  # socket, parser or closed-connection errors of the client library
        abort(upstream)
        error = ProxyError(502, f"upstream read failed: {type(exc).__name__}")
        finish(ctx, error.status, None, error.message)
        return error_response(error)
    upstream.release()
    status = upstream.status_code
    usage = _usage_of_body(ctx, pricer, body) if 200 <= status < 300 else None
    if ctx.key is not None and ctx.key.should_log_response:
        ctx.event.response_body = body
    finish(ctx, status, usage, "")
    return ProxyResponse(status, response_headers(upstream), body)


def _usage_of_body(ctx: RequestContext, pricer: Pricer, body: bytes) -> Usage | None:
    if ctx.adapter is None or ctx.route is None or ctx.route.operation.kind not in PRICED_KINDS:
        return None  # pass-through answers (files, assistants...) are never parsed
    kind = ctx.route.operation.kind
    parsed = _json_object(body)
    usage = None
    if parsed is not None:
        if isinstance(parsed.get("model"), str) and parsed["model"]:
            ctx.model = ctx.event.model = parsed["model"]
        usage = ctx.adapter.usage_from_body(ctx.route.operation, parsed)
        if usage is None and kind in ("chat", "completions"):
            # An answer without usage (Anthropic's legacy completions): count its text here,
            # reading the body as the adapter reads one stream event.
            state = StreamState()
            ctx.adapter.observe_stream_event(state, parsed)
            usage = _local_usage(ctx, pricer, state.completion_parts)
    if kind == "transcription" and not _counts_anything(usage):
        # text, srt and vtt answers report nothing: the uploaded audio's own duration prices them
        seconds = ctx.upload_seconds()
        usage = Usage(audio_seconds=seconds, source="local") if seconds is not None else usage
    if usage is None and kind == "speech" and ctx.parsed:
        usage = Usage(characters=len(str(ctx.parsed.get("input", ""))), source="local")
    return usage


def _json_object(body: bytes) -> dict[str, Any] | None:
    if not body.startswith(b"{"):
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _counts_anything(usage: Usage | None) -> bool:
    return usage is not None and bool(
        usage.prompt_tokens or usage.completion_tokens or usage.audio_seconds
    )


def relay_stream(
    ctx: RequestContext, upstream: Any, pricer: Pricer, finish: Finish, hide_usage: bool
) -> ProxyResponse:
    headers = [(k, v) for k, v in response_headers(upstream) if k.lower() != "content-type"]
    headers += [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                ("X-Accel-Buffering", "no")]  # fmt: skip
    stream = _stream(ctx, upstream, pricer, finish, hide_usage)
    state = StreamState()

    def never_started() -> None:
        abort(upstream)
        _finish_stream(ctx, state, pricer, finish, (499, "client disconnected before the stream"))

    return ProxyResponse(upstream.status_code, headers, OwnedStream(stream, never_started))


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
    ctx: RequestContext, upstream: Any, pricer: Pricer, finish: Finish, hide_usage: bool
) -> Generator[bytes, None, None]:
    assert ctx.adapter is not None
    adapter, stream_error = ctx.adapter, ctx.adapter.stream_error
    state = StreamState()
    outcome: tuple[int, str] = (499, "client disconnected")
    completed = False
    try:
        while True:
            received = read_events(upstream)
            if not received:
                outcome = (502, "upstream stream ended early")
                yield stream_error
                return
            # What arrived together is written together (one send); nothing waits for more.
            relayed: list[bytes] = []
            for raw in received:
                data = sse.event_data(raw)
                if data is not None and adapter.is_stream_end(data):
                    _finish_stream(ctx, state, pricer, finish, (upstream.status_code, ""))
                    completed = True
                    relayed.append(raw)
                    yield b"".join(relayed)
                    upstream.release()
                    return
                if _observe(adapter, state, data, hide_usage):
                    relayed.append(raw)
            if relayed:
                yield relayed[0] if len(relayed) == 1 else b"".join(relayed)
    except Exception as exc:  # any read failure (socket, parser, closed connection) ends the stream
        outcome = (502, f"upstream stream failed: {type(exc).__name__}")
        yield stream_error
    finally:
        if not completed:
            abort(upstream)
            _finish_stream(ctx, state, pricer, finish, outcome)


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


def _finish_stream(
    ctx: RequestContext,
    state: StreamState,
    pricer: Pricer,
    finish: Finish,
    outcome: tuple[int, str],
) -> None:
    if state.usage is None and ctx.adapter is not None:
        for data in state.unparsed:
            parsed = sse.parse_json_data(data)
            if parsed is not None:
                ctx.adapter.observe_stream_event(state, parsed)
    if state.model:
        ctx.model = ctx.event.model = state.model
    # No provider usage (stream cut short, or a provider that does not report it): count here.
    usage = state.usage or _local_usage(ctx, pricer, state.completion_parts)
    finish(ctx, outcome[0], usage, outcome[1])


def _local_usage(ctx: RequestContext, pricer: Pricer, completion_parts: list[str]) -> Usage:
    """Tokens counted by the gateway: the request's prompt and the text produced so far."""
    operation = ctx.route.operation if ctx.route else None
    prompt = (
        pricer.prompt_tokens(operation, ctx.model, ctx.parsed, len(ctx.request.body))
        if operation
        else 0
    )
    return Usage(prompt, pricer.completion_tokens(ctx.model, completion_parts), source="local")
