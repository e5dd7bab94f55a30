"""What a request used, from the provider's report or, where the provider said nothing, from the
gateway's own count: tokens (tiktoken) of the prompt and of the text relayed, the uploaded audio's
duration, the characters of a speech input. Called by accounting only."""

from __future__ import annotations

from app.providers.base import PRICED_KINDS, OperationKind, Usage
from app.providers.costs import Pricer
from app.proxy.context import RequestContext
from app.proxy.outcome import Answer, Outcome
from app.proxy.outgoing import OutgoingCall


def usage_of(
    ctx: RequestContext, call: OutgoingCall, outcome: Outcome, pricer: Pricer
) -> Usage | None:
    if outcome.answer is Answer.STREAM:
        return outcome.usage or _local_tokens(call, outcome, pricer)
    if outcome.answer is Answer.NONE or not 200 <= outcome.status < 300:
        return None
    kind = call.operation.kind
    if kind not in PRICED_KINDS:
        return None
    usage = outcome.usage
    if usage is None and outcome.completion_parts is not None:
        usage = _local_tokens(call, outcome, pricer)
    if kind is OperationKind.TRANSCRIPTION and not _counts_anything(usage):
        # text, srt and vtt answers report nothing: the uploaded audio's own duration prices them
        seconds = ctx.upload_seconds()
        usage = Usage(audio_seconds=seconds, source="local") if seconds is not None else usage
    if usage is None and kind is OperationKind.SPEECH and call.parsed:
        usage = Usage(characters=len(str(call.parsed.get("input", ""))), source="local")
    return usage


def _local_tokens(call: OutgoingCall, outcome: Outcome, pricer: Pricer) -> Usage:
    """Tokens counted by the gateway: the request's prompt and the text produced so far."""
    model = outcome.model or call.model
    prompt = pricer.prompt_tokens(call.operation, model, call.parsed, len(call.body))
    completion = pricer.completion_tokens(model, outcome.completion_parts or [])
    return Usage(prompt, completion, source="local")


def _counts_anything(usage: Usage | None) -> bool:
    return usage is not None and bool(
        usage.prompt_tokens or usage.completion_tokens or usage.audio_seconds
    )
