"""The in-process gateway: `create_app("proxy")` on a real SQLite file and the memory counters, with
the three things a socket or a wall clock would decide replaced by test doubles:

    runtime.upstream -> FakeUpstream   scripted `UpstreamResponse`s; records every `UpstreamRequest`
    runtime.clock    -> Clock          unix seconds that move only when a test moves them
    runtime.events   -> EventRecorder  the event rows, in publish order

Everything else is the production code: the views (through Flask's test client), the pipeline,
the snapshot (refreshed on each admin write), limits, relay, accounting. Admin writes go through
the real services on the same database, as the admin API makes them.

    def test_x(gateway):
        key = gateway.key(rateLimitOverTime=2, rateLimitUnit="m")
        gateway.upstream.answer(sse_response(events, batch=2))
        response = gateway.post(CHAT_PATH, json=body, key=key)
        [event] = gateway.events.rows
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import flask
from requests.structures import CaseInsensitiveDict
from werkzeug.test import TestResponse

from app import shutdown
from app.config import Settings
from app.container import Container, ProxyContainer
from app.domain.entities import Key, User
from app.domain.events import Event
from app.errors import UpstreamError, UpstreamTimeout, UpstreamUnreachable
from app.providers.costs import Pricer
from app.providers.tokens import TokenCounter
from app.proxy.runtime import ProxyRuntime
from app.proxy.upstream import UpstreamRequest, response_headers

UPSTREAM_URL = "http://upstream.test"
SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
USAGE = {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}

# One vocabulary cache for the whole run, as a worker has one for its life: loading o200k_base
# takes a few hundred milliseconds, which every test would otherwise pay again.
_TOKENS = TokenCounter()


# --------------------------------------------------------------------------------------------------
# The fake upstream
# --------------------------------------------------------------------------------------------------


@dataclass
class FakeResponse:
    """An `UpstreamResponse` from a script: a whole body, or SSE events in batches (the events of
    one batch "arrived together"). `fail_after` batches, the stream fails as a dead socket does;
    `read_fails` makes `read()` fail the same way. Records how the relay ended it."""

    status: int = 200
    raw_headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    batches: Sequence[list[bytes]] = ()
    fail_after: int | None = None
    read_fails: bool = False
    released: bool = False
    aborted: bool = False

    def __post_init__(self) -> None:
        # What the client would get from the real pool: hop-by-hop headers already dropped.
        self.headers = response_headers(CaseInsensitiveDict(self.raw_headers))

    @property
    def is_event_stream(self) -> bool:
        return "text/event-stream" in CaseInsensitiveDict(self.raw_headers).get("content-type", "")

    def read(self) -> bytes:
        if self.read_fails:
            self.abort()
            raise UpstreamUnreachable("upstream read failed: ConnectionResetError")
        self.release()
        return self.body

    def events(self) -> Iterator[list[bytes]]:
        for batch in self.batches[: self.fail_after]:
            yield list(batch)
        if self.fail_after is not None:
            raise UpstreamUnreachable("upstream stream failed: ConnectionResetError")

    def release(self) -> None:
        self.released = True

    def abort(self) -> None:
        self.aborted = True


def json_response(
    obj: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> FakeResponse:
    raw = {"Content-Type": "application/json", **(headers or {})}
    return FakeResponse(status, raw, body=json.dumps(obj).encode())


def sse_response(
    events: Sequence[bytes], batch: int = 1, fail_after: int | None = None
) -> FakeResponse:
    """`events` delivered `batch` at a time; with `fail_after`, the connection dies after that
    many batches."""
    batches = [list(events[i : i + batch]) for i in range(0, len(events), batch)]
    return FakeResponse(200, SSE_HEADERS, batches=batches, fail_after=fail_after)


def split_events(transcript: bytes) -> list[bytes]:
    """A transcript's events, each verbatim with its blank line (LF or CRLF), as the pool's
    `events()` hands them over."""
    events, start = [], 0
    while start < len(transcript):
        lf = transcript.find(b"\n\n", start)
        crlf = transcript.find(b"\n\r\n", start, lf + 3 if lf >= 0 else len(transcript))
        assert lf >= 0 or crlf >= 0, "a transcript ends with a complete event"
        end = crlf + 3 if crlf >= 0 else lf + 2
        events.append(transcript[start:end])
        start = end
    return events


def chat_completion(
    request: dict[str, Any], usage: dict[str, int] | None = USAGE,
    headers: Mapping[str, str] | None = None,
) -> FakeResponse:  # fmt: skip
    body: dict[str, Any] = {
        "id": "chatcmpl-fake", "object": "chat.completion", "model": request.get("model", ""),
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "Hello from the fake upstream."}}],
    }  # fmt: skip
    if usage is not None:
        body["usage"] = usage
    return json_response(body, headers=headers)


def chat_stream(
    request: dict[str, Any], contents: Sequence[str] = ("tok0 ", "tok1 ", "tok2 "),
    usage: dict[str, int] = USAGE, fail_after: int | None = None,
) -> FakeResponse:  # fmt: skip
    """OpenAI's chat stream: a role chunk, one chunk per content, a finish chunk, the usage chunk
    when the request asked for it (as OpenAI does), then [DONE]."""
    model = request.get("model", "")

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return sse({"id": "c", "object": "chat.completion.chunk", "model": model,
                    "choices": [choice]})  # fmt: skip

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": text}) for text in contents]
    events.append(chunk({}, "stop"))
    if (request.get("stream_options") or {}).get("include_usage"):
        events.append(sse({"id": "c", "object": "chat.completion.chunk", "model": model,
                           "choices": [], "usage": usage}))  # fmt: skip
    events.append(b"data: [DONE]\n\n")
    return sse_response(events, fail_after=fail_after)


def sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


@dataclass(frozen=True)
class Received:
    """One call as the fake upstream received it."""

    method: str
    url: str
    headers: CaseInsensitiveDict[str]
    body: bytes
    timeout_s: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Answer = FakeResponse | UpstreamError
Script = Callable[[Received], Answer]


class FakeUpstream:
    """`Upstream` in process. Answers each call with the next queued answer, else with `script`
    (by default OpenAI's chat answer, streamed when the body asks). An `UpstreamError` answer is
    raised from `send`, as the pool raises a timeout or a refused connection."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.responses: list[FakeResponse] = []
        self.script: Script = default_script
        self._queued: list[Answer] = []

    def answer(self, *answers: Answer) -> None:
        self._queued.extend(answers)

    @property
    def last(self) -> Received:
        return self.requests[-1]

    def send(self, request: UpstreamRequest) -> FakeResponse:
        received = Received(request.method, request.url, CaseInsensitiveDict(request.headers),
                            request.body, request.timeout_s)  # fmt: skip
        self.requests.append(received)
        answer = self._queued.pop(0) if self._queued else self.script(received)
        if isinstance(answer, UpstreamError):
            raise answer
        self.responses.append(answer)
        return answer

    def close(self) -> None:
        pass


def default_script(received: Received) -> FakeResponse:
    request = received.json if received.body.startswith(b"{") else {}
    return chat_stream(request) if request.get("stream") else chat_completion(request)


def timeout() -> UpstreamTimeout:
    """What the pool raises when no answer came within the call's timeout."""
    return UpstreamTimeout()


def refused() -> UpstreamUnreachable:
    """What the pool raises when the upstream refused the connection."""
    return UpstreamUnreachable("upstream unreachable: ConnectionRefusedError")


# --------------------------------------------------------------------------------------------------
# Clock and events
# --------------------------------------------------------------------------------------------------


class Clock:
    """Unix seconds, frozen until a test moves them: requests of one test share one instant, so no
    rate window rolls over unless the test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def to_next_minute(self) -> None:
        self.now = (int(self.now) // 60 + 1) * 60 + 0.001


class EventRecorder:
    """The runtime's event publisher: keeps every event row it is given."""

    def __init__(self) -> None:
        self.rows: list[Event] = []

    def publish(self, event: Event) -> None:
        self.rows.append(event)


# --------------------------------------------------------------------------------------------------
# The gateway
# --------------------------------------------------------------------------------------------------


class Gateway:
    """The proxy app with its doubles, the admin services on the same database, and helpers."""

    def __init__(self, app: flask.Flask, admin: Container) -> None:
        container: ProxyContainer = app.extensions["bricks"]
        self.app = app
        self.client = app.test_client()
        self.admin = admin
        self.runtime: ProxyRuntime = container.proxy
        self.upstream = FakeUpstream()
        self.clock = Clock(time.time())
        self.events = EventRecorder()
        self.runtime.upstream = self.upstream
        self.runtime.clock = self.clock
        self.runtime.events = self.events
        self.runtime.pricer = Pricer(_TOKENS)
        self.last_key: Key | None = None

    def setting(self, provider: str = "openai", setting: dict[str, str] | None = None,
                **extra: Any) -> str:  # fmt: skip
        """A provider setting whose upstream is the fake; returns its id."""
        values = {"apikey": "sk-upstream", "url": UPSTREAM_URL, **(setting or {})}
        created = self.admin.provider_settings.create(
            {"provider": provider, "setting": values, **extra}
        )
        self.refresh()
        return created.id

    def key(self, setting_ids: list[str] | None = None, **fields: Any) -> str:
        """A key (on a fresh OpenAI setting unless `setting_ids`), wire field names as the admin
        API takes them; returns its secret. The key is `last_key`."""
        secret = f"gw-{uuid.uuid4().hex}"
        ids = setting_ids or [self.setting()]
        self.last_key = self.admin.keys.create(
            {"name": "test", "key": secret, "settingIds": ids, **fields}
        )
        self.refresh()
        return secret

    def user(self, user_id: str, **fields: Any) -> User:
        """A user of the client's, wire field names as the admin API takes them."""
        created = self.admin.users.create({"name": user_id, "userId": user_id, **fields})
        self.refresh()
        return created

    def patch_key(self, key_id: str, **fields: Any) -> None:
        self.admin.keys.update(key_id, fields)
        self.refresh()

    def refresh(self) -> None:
        """What the proxy's refresher does every IN_MEMORY_DB_UPDATE_INTERVAL, now."""
        self.runtime.snapshot.refresh_now()

    def post(self, path: str, json: Any = None, key: str | None = None,
             headers: Mapping[str, str] | None = None, **kwargs: Any) -> TestResponse:  # fmt: skip
        """POST through the views, `key` as `x-api-key`; the answer is read to its end unless
        `buffered=False` is passed (a stream then runs as the test reads it)."""
        sent = {**({"x-api-key": key} if key else {}), **(headers or {})}
        kwargs.setdefault("buffered", True)
        return self.client.post(path, json=json, headers=sent, **kwargs)

    def close(self) -> None:
        shutdown(self.app, timeout_s=1.0)


def gateway_settings(directory: str) -> Settings:
    return Settings(
        sqlite_path=f"{directory}/bricks.db",
        event_journal_dir=f"{directory}/journal",
        number_of_event_message_consumers=1,
        # The refresher thread never runs during a test: each admin write refreshes explicitly.
        in_memory_db_update_interval=3600.0,
    )
