"""Stage 7: send the outgoing call upstream, with the wire-only changes its provider needs.

A streamed chat or completions call asks the provider for usage (`stream_options.include_usage`)
when the client did not; the relay then hides that usage-only chunk from the client. The call's
own body stays as the client (or a policy) wrote it: that is what the event row keeps.
"""

from __future__ import annotations

from app.proxy.outgoing import OutgoingCall
from app.proxy.upstream import Upstream, UpstreamRequest, UpstreamResponse


def send(call: OutgoingCall, pool: Upstream) -> tuple[UpstreamResponse, bool]:
    """The upstream's answer once its head arrived, and whether usage is to be hidden."""
    body, hide_usage = call.body, False
    if call.wants_stream and call.parsed is not None and call.operation.kind.produces_text:
        body, hide_usage = call.adapter.prepare_stream_body(body, call.parsed)
    request = UpstreamRequest(call.method, call.url, call.headers, body, call.timeout_s)
    return pool.send(request), hide_usage
