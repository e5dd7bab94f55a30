"""The typed state one proxied request carries through the stages, and what the proxy answers.

`RequestContext` holds what the stages learn before the outgoing call exists (the endpoint, the
key, the body's model and user); everything after authorization reads the immutable
`OutgoingCall` (outgoing.py) instead. The event row is built from both at the end (event_row.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from app.counters.base import Reservation
from app.domain.entities import Key, User
from app.errors import ProxyError
from app.providers.audio import audio_seconds
from app.providers.base import ProviderAdapter
from app.proxy.endpoints import Endpoint
from app.services.clock import new_id

if TYPE_CHECKING:
    from app.proxy.outgoing import OutgoingCall


@dataclass(frozen=True)
class ProxyRequest:
    """The client's request as the views read it; nothing else touches flask.request."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # case-insensitive lookups
    body: bytes
    form_fields: Mapping[str, str] = field(default_factory=dict)  # multipart text fields
    upload: IO[bytes] | None = None  # the multipart `file` part, unread (audio to transcribe...)
    request_id: str = ""  # X-Request-Id: the client's, or made by the views
    # The path with every byte the client sent: `path` shows bytes that are not UTF-8 as U+FFFD
    # (for events, logs and matching keys' paths); this keeps them as surrogate escapes, so the
    # upstream gets them as received. Empty when both are the same (nearly always).
    wire_path: str = ""

    @property
    def is_json(self) -> bool:
        return "json" in self.headers.get("Content-Type", "") or self.body[:1] in (b"{", b"[")


@dataclass
class ProxyResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes | Iterable[bytes]


@dataclass
class RequestContext:
    """What is known of one request so far. Stages fill it in order; None means "not reached"."""

    request: ProxyRequest
    now: float  # unix seconds when the request arrived (the runtime's clock)
    event_id: str = field(default_factory=new_id)
    started: float = field(default_factory=time.monotonic)
    endpoint: Endpoint | None = None
    adapter: ProviderAdapter | None = None
    key: Key | None = None
    user: User | None = None  # the client's user the request is bound to, if any
    parsed: dict[str, Any] | None = None  # the client's JSON body, parsed once (read_body)
    model: str = ""  # the model the body (or path) asks for
    user_id: str = ""  # the user the body names
    call: OutgoingCall | None = None  # what goes upstream, once authorized
    route_id: str = ""  # the failover route called, if any
    policy_id: str = ""  # the key's policy, once it was applied
    policy_action: str = ""  # what it did: allowed, warned, redacted or blocked
    reservation: Reservation | None = None
    limit_decision: str = "not_reached"  # what the limits stage decided (metrics label)
    upstream_started: float | None = None  # monotonic time the first upstream call was sent

    _upload_read: bool = field(default=False, repr=False)
    _upload_seconds: float | None = field(default=None, repr=False)

    def upload_seconds(self) -> float | None:
        """Seconds of the uploaded audio, read from its headers once per request (the reservation
        and the pricing of an answer without a duration both need it), or None."""
        if not self._upload_read:
            self._upload_read = True
            upload = self.request.upload
            self._upload_seconds = audio_seconds(upload) if upload is not None else None
        return self._upload_seconds

    @property
    def created_at(self) -> int:
        return int(self.now)

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


def error_response(error: ProxyError, adapter: ProviderAdapter | None = None) -> ProxyResponse:
    """A gateway-made error in the shape of the provider whose path was called (OpenAI's when
    none is known); never carries a key."""
    import orjson

    headers = [("Content-Type", "application/json")]
    if error.retry_after is not None:
        headers.append(("Retry-After", str(error.retry_after)))
    body = (
        adapter.error_body(error.status, error.message, error.error_type)
        if adapter
        else error.body()
    )
    return ProxyResponse(error.status, headers, orjson.dumps(body))
