"""The event of a request refused before the pipeline ran.

Some requests never reach `pipeline.handle`: the server refuses their framing, a control
character or a head that did not arrive in time (`app/serving.py`), or Flask refuses a method the
proxy does not serve, a body too large or too slow, or a fault in reading it (`app/__init__.py`).
Each still leaves one event, like every request the proxy answers: with its method, path and
status, the refusal's message as its error, and the key when one of the key headers names a known
key (so a key's owner sees the refused calls beside the others). Nothing was reserved, priced or
sent upstream; the provider and model are unknown, since no body was read.

A request whose request line never arrived whole is not a request: a connection that trickles
or idles is closed without an event (the access log and metrics do not see it either).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from app.errors import ProxyError
from app.observability.request_id import HEADER as REQUEST_ID_HEADER
from app.observability.request_id import request_id
from app.proxy import accounting
from app.proxy.authenticate import authenticate
from app.proxy.context import ProxyRequest, RequestContext
from app.proxy.outcome import Outcome
from app.proxy.runtime import ProxyRuntime

log = logging.getLogger(__name__)


def record_refusal(
    runtime: ProxyRuntime, method: str, path: str, headers: Mapping[str, str], status: int,
    message: str,
) -> None:  # fmt: skip
    """Publish the event of a refused request (and its metrics and access line)."""
    request = ProxyRequest(
        method=method, path=path, query="", headers=headers, body=b"",
        request_id=request_id(headers.get(REQUEST_ID_HEADER)),
    )  # fmt: skip
    ctx = RequestContext(request, runtime.clock())
    try:
        authenticate(ctx, runtime.snapshot.current, ctx.now)
    except ProxyError:
        pass  # no key, or not a usable one: the event has the key when it is known at all
    except Exception:  # the lookup failed: the event is still recorded, without its key
        log.exception("could not look up the key of a refused request")
    accounting.finish(
        ctx, Outcome(status, message), pricer=runtime.pricer, counters=runtime.counters,
        events=runtime.events,
    )  # fmt: skip
