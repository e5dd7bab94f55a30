"""A real HTTP fake of the LLM upstreams (OpenAI, Azure OpenAI paths, Anthropic) for the test suite.

It owns one threaded HTTP/1.1 server on 127.0.0.1 (ephemeral port, keep-alive, chunked streaming written
and flushed chunk by chunk), a record of every request it received, and the knobs tests turn to script
the upstream: usage, chunk count and delay, forced failures, a connection that dies mid-stream, a slow
first byte. No mocks: the gateway under test talks to it over a real socket.

Typical use::

    @pytest.fixture(scope="session")
    def upstream():
        with FakeUpstream() as up:
            yield up

    @pytest.fixture(autouse=True)
    def _fresh_upstream(upstream):
        upstream.reset()

    def test_x(upstream):
        upstream.configure(chunk_count=5, chunk_delay_s=0.01, usage={"prompt_tokens": 3, ...})
        upstream.fail_next(429, count=1)
        ...
        assert upstream.last.json["model"] == "gpt-4o-mini"
        assert upstream.last.headers["authorization"] == "Bearer sk-upstream"

Routing matches on the path *suffix*, so a base path (``/v1``, ``/openai/deployments/d``, ``/proxy``)
is accepted anywhere before it:

==========================================  ====================================================
POST .../chat/completions                   chat.completion, or SSE of chat.completion.chunk
POST .../completions                        text_completion, or SSE
POST .../embeddings                         list of embeddings (float or base64), usage
POST .../moderations                        one result per input
POST .../audio/speech                       audio bytes (audio/mpeg by default)
POST .../audio/transcriptions|translations  {"text"}; verbose_json adds duration; text/srt/vtt plain
POST .../images/generations                 data list (url or b64_json)
POST .../v1/messages                        Anthropic message, or SSE with named events
POST .../v1/messages/count_tokens           {"input_tokens"}
POST .../responses                          Responses API: response object, SSE ending with
                                            response.completed (no [DONE]), or queued (background)
GET  .../responses/{id}                     a completed response with usage (retrieval)
POST .../responses/{id}/cancel, input_tokens  cancelled response / {"input_tokens"}
GET  list paths (.../chat/completions, .../input_items, .../vector_stores, ...)  empty list page
GET  .../models, .../models/{id}            model list / model object
anything else                               {"object": "echo", "method", "path", "query", ...}
==========================================  ====================================================

Streams: the OpenAI chat stream sends a role chunk, then ``chunk_count`` content chunks (each preceded
by ``chunk_delay_s``), a finish chunk, then -- only when the request had
``stream_options.include_usage: true`` -- a chunk with empty ``choices`` and ``usage``, then
``data: [DONE]``. ``die_mid_stream_after=k`` closes the socket after k content chunks, before the finish
chunk and without ``[DONE]``. When the client goes away during a stream or a delay, the request record
gets ``closed_early`` and ``upstream.stream_closed_early`` (a ``threading.Event``) is set, with
``upstream.stream_closed_early_at`` holding the ``time.monotonic()`` of the detection.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import re
import select
import socket
import socketserver
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

DIE = object()
"""Put in ``Reply.chunks`` to close the socket at that point (no terminating chunk)."""

SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}

DEFAULT_USAGE = {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}

DEFAULT_KNOBS: dict[str, Any] = {
    # assistant text of non-streaming replies
    "content": "Hello from the fake upstream.",
    # usage reported (OpenAI names; Anthropic gets input_tokens/output_tokens from the same numbers).
    # None: no usage in any reply.
    "usage": DEFAULT_USAGE,
    # content chunks of a stream, and the text of each (None: "tok0 ", "tok1 ", ...)
    "chunk_count": 3,
    "stream_contents": None,
    # seconds before each content chunk of a stream
    "chunk_delay_s": 0.0,
    # seconds before any reply (headers included); the wait notices a client that goes away
    "response_delay_s": 0.0,
    # close the socket after this many content chunks, without the finish chunk or [DONE]
    "die_mid_stream_after": None,
    # model reported in replies (None: echo the request's model)
    "response_model": None,
    "transcription_text": "Hello from the fake transcription.",
    "audio_duration_s": 3.5,
    "speech_bytes": b"ID3\x03\x00\x00\x00\x00\x00\x0f" + b"\xff\xfb\x90\x64" * 64,
    "embedding_dimensions": 8,
    # usage of gpt-image-* answers and of gpt-4o-*transcribe json answers (None: no usage)
    "image_usage": {
        "input_tokens": 50,
        "input_tokens_details": {"text_tokens": 40, "image_tokens": 10},
        "output_tokens": 4160,
        "total_tokens": 4210,
    },
    "transcription_usage": {
        "type": "tokens",
        "input_tokens": 120,
        "input_token_details": {"text_tokens": 20, "audio_tokens": 100},
        "output_tokens": 30,
        "total_tokens": 150,
    },
    "models": ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "whisper-1", "tts-1", "dall-e-3"],
    # headers added to every reply
    "extra_response_headers": {},
}

_CLOSED_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


# --------------------------------------------------------------------------------------------------
# What was received, and what to send back
# --------------------------------------------------------------------------------------------------


@dataclass
class UploadedFile:
    """One file part of a multipart/form-data body."""

    name: str
    filename: str
    content_type: str
    content: bytes


@dataclass
class RecordedRequest:
    """One request as the fake received it. ``headers`` looks names up case-insensitively."""

    method: str
    path: str
    query: str
    headers: CaseInsensitiveDict[str]
    body: bytes
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    received_at: float = field(default_factory=time.monotonic)
    closed_early: bool = False
    closed_early_at: float | None = None
    died_mid_stream: bool = False
    # Counted as each chunk's write starts: a client that stops at [DONE] may finish before the
    # write returns, and a count taken after it raced with the client's assertions.
    chunks_sent: int = 0

    @property
    def query_params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)

    @property
    def target(self) -> str:
        return self.path + ("?" + self.query if self.query else "")

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


@dataclass
class Reply:
    """What a script returns. ``body`` may be bytes, str, or JSON-able (dict/list).

    With ``chunks`` the reply is streamed with chunked encoding: each str/bytes item is written and
    flushed as one chunk, a number is a pause in seconds (the pause notices a client that goes away),
    and ``DIE`` closes the socket on the spot.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Iterable[Any] | None = None

    def body_bytes(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()

    def content_type(self) -> str:
        if isinstance(self.body, bytes):
            return "application/octet-stream"
        if isinstance(self.body, str):
            return "text/plain; charset=utf-8"
        return "application/json"


Script = Callable[[RecordedRequest], "Reply | dict[str, Any] | list[Any] | tuple[int, Any] | None"]


@dataclass
class _Failure:
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int
    path_suffix: str | None


def sse_data(obj: Any) -> str:
    """One unnamed SSE event (the OpenAI style)."""
    return "data: " + json.dumps(obj, separators=(",", ":")) + "\n\n"


def sse_event(name: str, obj: Any) -> str:
    """One named SSE event (the Anthropic style)."""
    return f"event: {name}\ndata: " + json.dumps(obj, separators=(",", ":")) + "\n\n"


def split_sse_events(transcript: bytes) -> tuple[list[bytes], bytes]:
    """A recorded SSE body cut into its complete events (CRLF made LF) and the incomplete rest,
    for the fake to send one chunk per event."""
    events: list[bytes] = []
    normalized = transcript.replace(b"\r\n", b"\n")
    while (end := normalized.find(b"\n\n")) >= 0:
        events.append(normalized[: end + 2])
        normalized = normalized[end + 2 :]
    return events, normalized


# --------------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------------


class FakeUpstream:
    """A local LLM upstream on 127.0.0.1 that records what it receives. See the module docstring."""

    # knobs: defaults and meaning in DEFAULT_KNOBS; reset() restores them
    content: str
    usage: dict[str, Any] | None
    chunk_count: int
    stream_contents: list[str] | None
    chunk_delay_s: float
    response_delay_s: float
    die_mid_stream_after: int | None
    response_model: str | None
    transcription_text: str
    audio_duration_s: float
    speech_bytes: bytes
    embedding_dimensions: int
    models: list[str]
    extra_response_headers: dict[str, str]

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **knobs: Any) -> None:
        self.host = host
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self.requests: list[RecordedRequest] = []
        self.stream_closed_early = threading.Event()
        self.stream_closed_early_at: float | None = None
        self._failures: list[_Failure] = []
        self._scripts: list[tuple[str, str | None, Script]] = []
        self._init_knobs = knobs
        self._apply_defaults()

    # lifecycle ------------------------------------------------------------------------------------

    def start(self) -> FakeUpstream:
        if self._server is not None:
            return self
        self._server = _Server((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-upstream-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_all_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeUpstream is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # knobs ----------------------------------------------------------------------------------------

    def _apply_defaults(self) -> None:
        for name, value in DEFAULT_KNOBS.items():
            setattr(self, name, copy.deepcopy(value))
        self.configure(**self._init_knobs)

    def configure(self, **knobs: Any) -> FakeUpstream:
        """Set knobs by name (see DEFAULT_KNOBS); unknown names raise TypeError."""
        unknown = set(knobs) - set(DEFAULT_KNOBS)
        if unknown:
            raise TypeError(f"unknown FakeUpstream knobs: {sorted(unknown)}")
        for name, value in knobs.items():
            setattr(self, name, value)
        return self

    def reset(self) -> None:
        """Forget requests, failures, scripts and the closed-early flag; knobs back to defaults."""
        with self._cond:
            self.requests.clear()
            self._failures.clear()
            self._scripts.clear()
        self.stream_closed_early.clear()
        self.stream_closed_early_at = None
        self._apply_defaults()

    def script(self, path_suffix: str, handler: Script, method: str | None = None) -> None:
        """Answer requests whose path ends with ``path_suffix`` with ``handler(request)``.

        The handler returns a Reply, a JSON-able dict/list (status 200), a ``(status, body)`` tuple,
        or None to fall through to the default behaviour. The newest script wins.
        """
        with self._cond:
            self._scripts.insert(0, (path_suffix, method.upper() if method else None, handler))

    def fail_next(
        self,
        status: int,
        body: Any = None,
        count: int = 1,
        headers: dict[str, str] | None = None,
        path_suffix: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests (matching ``path_suffix`` if given) with ``status``.

        Without ``body`` the body is the provider's usual JSON error for that status.
        """
        with self._cond:
            self._failures.append(_Failure(status, body, dict(headers or {}), count, path_suffix))

    # reading what happened ------------------------------------------------------------------------

    @property
    def last(self) -> RecordedRequest | None:
        with self._cond:
            return self.requests[-1] if self.requests else None

    def requests_to(self, path_suffix: str) -> list[RecordedRequest]:
        with self._cond:
            return [r for r in self.requests if r.path.endswith(path_suffix)]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``count`` requests were received; raise TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= count, timeout):
                raise TimeoutError(f"{len(self.requests)} requests received, {count} expected")
            return list(self.requests)

    def wait_closed_early(self, timeout: float = 5.0) -> float | None:
        """Wait for a client to go away mid-reply; the monotonic time it was noticed, or None."""
        if self.stream_closed_early.wait(timeout):
            return self.stream_closed_early_at
        return None

    def stream_parts(self) -> list[str]:
        """The content pieces a stream sends, in order."""
        if self.stream_contents is not None:
            return list(self.stream_contents)
        return [f"tok{i} " for i in range(self.chunk_count)]

    def stream_text(self) -> str:
        return "".join(self.stream_parts())

    # used by the handler --------------------------------------------------------------------------

    def _record(self, req: RecordedRequest) -> None:
        with self._cond:
            self.requests.append(req)
            self._cond.notify_all()

    def _mark_closed_early(self, req: RecordedRequest) -> None:
        now = time.monotonic()
        req.closed_early, req.closed_early_at = True, now
        if not self.stream_closed_early.is_set():
            self.stream_closed_early_at = now
            self.stream_closed_early.set()

    def _scripted_reply(self, req: RecordedRequest) -> Reply | None:
        failure = self._take_failure(req)
        if failure is not None:
            return failure
        with self._cond:
            scripts = list(self._scripts)
        for suffix, method, handler in scripts:
            if req.path.endswith(suffix) and method in (None, req.method):
                reply = _as_reply(handler(req))
                if reply is not None:
                    return reply
        return None

    def _take_failure(self, req: RecordedRequest) -> Reply | None:
        with self._cond:
            for failure in self._failures:
                if failure.path_suffix is None or req.path.endswith(failure.path_suffix):
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                    body = (
                        failure.body
                        if failure.body is not None
                        else _error_body(req, failure.status)
                    )
                    return Reply(failure.status, body, dict(failure.headers))
        return None

    def _default_reply(self, req: RecordedRequest) -> Reply:
        for method, pattern, build in _ROUTES:
            match = pattern.search(req.path)
            if match and req.method == method:
                return build(self, req, match)
        return Reply(body=_echo(req))


def _as_reply(value: Any) -> Reply | None:
    if value is None or isinstance(value, Reply):
        return value
    if isinstance(value, tuple):
        status, body = value
        return Reply(status=status, body=body)
    return Reply(body=value)


# --------------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], upstream: FakeUpstream) -> None:
        self.upstream = upstream
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), which may wait on DNS; we only need the address.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def close_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().close_request(request)

    def close_all_connections(self) -> None:
        with self._open_lock:
            open_sockets = list(self._open)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # the client went away; nothing to report
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeUpstream/1.0"
    timeout = 60  # an idle keep-alive connection's thread ends after this
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        upstream = self.server.upstream
        req = self._read_request()
        upstream._record(req)
        reply = upstream._scripted_reply(req)
        if upstream.response_delay_s and not self._pause(req, upstream.response_delay_s):
            return
        if reply is None:
            reply = upstream._default_reply(req)
        self._send(req, reply, upstream.extra_response_headers)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET

    # reading --------------------------------------------------------------------------------------

    def _read_request(self) -> RecordedRequest:
        parts = urlsplit(self.path)
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for name, value in self.headers.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        body = self._read_body()
        req = RecordedRequest(self.command, parts.path, parts.query, headers, body)
        content_type = headers.get("content-type", "")
        if body and ("json" in content_type or body[:1] in (b"{", b"[")):
            req.json = _json_or_none(body)
        if content_type.startswith("multipart/form-data"):
            req.form, req.files = parse_multipart(body, content_type)
        return req

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked_body(self) -> bytes:
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            body += self.rfile.read(size)
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return bytes(body)

    # writing --------------------------------------------------------------------------------------

    def _send(self, req: RecordedRequest, reply: Reply, extra: dict[str, str]) -> None:
        headers = {"x-request-id": "req_" + uuid.uuid4().hex[:24], **extra, **reply.headers}
        try:
            if reply.chunks is not None:
                self._send_stream(req, reply, headers)
            else:
                self._send_whole(reply, headers)
        except _CLOSED_ERRORS:
            self.close_connection = True
            self.server.upstream._mark_closed_early(req)

    def _send_whole(self, reply: Reply, headers: dict[str, str]) -> None:
        body = reply.body_bytes()
        self.send_response(reply.status)
        lowered = {k.lower() for k in headers}
        if "content-type" not in lowered and reply.body is not None:
            self.send_header("Content-Type", reply.content_type())
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_stream(self, req: RecordedRequest, reply: Reply, headers: dict[str, str]) -> None:
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for item in reply.chunks or ():
            if item is DIE:
                self._die(req)
                return
            if isinstance(item, int | float):
                if not self._pause(req, float(item)):
                    return
                continue
            data = item.encode() if isinstance(item, str) else bytes(item)
            req.chunks_sent += 1
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")

    def _die(self, req: RecordedRequest) -> None:
        req.died_mid_stream = True
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _pause(self, req: RecordedRequest, seconds: float) -> bool:
        """Sleep ``seconds``; False (and the request marked closed early) if the client went away."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], remaining)
            if not readable:
                continue
            if self._peer_closed():
                self.close_connection = True
                self.server.upstream._mark_closed_early(req)
                return False
            time.sleep(max(0.0, deadline - time.monotonic()))  # bytes waiting: not a close
        return True

    def _peer_closed(self) -> bool:
        try:
            peeked: bytes = self.connection.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return peeked == b""


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def parse_multipart(
    body: bytes, content_type: str
) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """Split a multipart/form-data body into text fields and files (enough for tests)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    form: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    if not match:
        return form, files
    for part in body.split(b"--" + match.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        part_headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            part_headers[name.strip().lower()] = value.strip()
        disposition = part_headers.get("content-disposition", "")
        name = _disposition_param(disposition, "name") or ""
        filename = _disposition_param(disposition, "filename")
        if filename is None:
            form[name] = content.decode("utf-8", "replace")
        else:
            ctype = part_headers.get("content-type", "application/octet-stream")
            files[name] = UploadedFile(name, filename, ctype, content)
    return form, files


def _disposition_param(disposition: str, param: str) -> str | None:
    match = re.search(rf'(?:^|;)\s*{param}="([^"]*)"', disposition)
    return match.group(1) if match else None


# --------------------------------------------------------------------------------------------------
# Default provider behaviour
# --------------------------------------------------------------------------------------------------


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def _body(req: RecordedRequest) -> dict[str, Any]:
    return req.json if isinstance(req.json, dict) else {}


def _model(up: FakeUpstream, req: RecordedRequest, default: str = "gpt-4o-mini") -> str:
    return str(up.response_model or _body(req).get("model") or default)


def _usage(up: FakeUpstream) -> dict[str, Any] | None:
    if up.usage is None:
        return None
    usage = dict(up.usage)
    usage.setdefault("prompt_tokens", 0)
    usage.setdefault("completion_tokens", 0)
    usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
    return usage


def _include_usage(req: RecordedRequest) -> bool:
    options = _body(req).get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _content_chunks(up: FakeUpstream, make: Callable[[str], str]) -> Iterator[Any]:
    """Content events with their pauses; DIE where ``die_mid_stream_after`` says."""
    die_after = up.die_mid_stream_after
    for index, text in enumerate(up.stream_parts()):
        if die_after is not None and index >= die_after:
            yield DIE
            return
        if up.chunk_delay_s:
            yield up.chunk_delay_s
        yield make(text)
    if die_after is not None:
        yield DIE


def _echo(req: RecordedRequest) -> dict[str, Any]:
    echo: dict[str, Any] = {
        "object": "echo",
        "method": req.method,
        "path": req.path,
        "query": req.query,
        "content_type": req.headers.get("content-type"),
        "body_length": len(req.body),
    }
    if req.json is not None:
        echo["json"] = req.json
    if req.form or req.files:
        echo["form"] = req.form
        echo["files"] = {
            n: {"filename": f.filename, "content_type": f.content_type, "size": len(f.content)}
            for n, f in req.files.items()
        }
    return echo


def _error_body(req: RecordedRequest, status: int) -> dict[str, Any]:
    message = f"The fake upstream was told to answer {status}."
    if req.path.endswith("/v1/messages"):
        kinds = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }
        return {
            "type": "error",
            "error": {"type": kinds.get(status, "api_error"), "message": message},
        }
    kinds = {
        400: "invalid_request_error",
        401: "invalid_request_error",
        404: "invalid_request_error",
        429: "requests",
    }
    codes = {401: "invalid_api_key", 429: "rate_limit_exceeded"}
    error_type = kinds.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {
        "error": {"message": message, "type": error_type, "param": None, "code": codes.get(status)}
    }


# OpenAI chat ---------------------------------------------------------------------------------------


def _chat(up: FakeUpstream, req: RecordedRequest, _match: re.Match[str]) -> Reply:
    model = _model(up, req)
    if _body(req).get("stream"):
        return Reply(headers=dict(SSE_HEADERS), chunks=_chat_stream(up, model, _include_usage(req)))
    completion: dict[str, Any] = {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": up.content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
    }
    usage = _usage(up)
    if usage is not None:
        completion["usage"] = usage
    return Reply(body=completion)


def _chat_stream(up: FakeUpstream, model: str, include_usage: bool) -> Iterator[Any]:
    base = {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        extra = {"usage": None} if include_usage else {}
        return sse_data({**base, "choices": [choice], **extra})

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    yield from _content_chunks(up, lambda text: chunk({"content": text}))
    yield chunk({}, "stop")
    usage = _usage(up)
    if include_usage and usage is not None:
        yield sse_data({**base, "choices": [], "usage": usage})
    yield "data: [DONE]\n\n"


# OpenAI legacy completions -------------------------------------------------------------------------


def _completion(up: FakeUpstream, req: RecordedRequest, _match: re.Match[str]) -> Reply:
    model = _model(up, req, "gpt-3.5-turbo-instruct")
    if _body(req).get("stream"):
        return Reply(
            headers=dict(SSE_HEADERS), chunks=_completion_stream(up, model, _include_usage(req))
        )
    completion: dict[str, Any] = {
        "id": _new_id("cmpl-"),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"text": up.content, "index": 0, "logprobs": None, "finish_reason": "stop"}],
    }
    usage = _usage(up)
    if usage is not None:
        completion["usage"] = usage
    return Reply(body=completion)


def _completion_stream(up: FakeUpstream, model: str, include_usage: bool) -> Iterator[Any]:
    base = {
        "id": _new_id("cmpl-"),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(text: str, finish: str | None = None) -> str:
        choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}
        extra = {"usage": None} if include_usage else {}
        return sse_data({**base, "choices": [choice], **extra})

    yield from _content_chunks(up, chunk)
    yield chunk("", "stop")
    usage = _usage(up)
    if include_usage and usage is not None:
        yield sse_data({**base, "choices": [], "usage": usage})
    yield "data: [DONE]\n\n"


# OpenAI embeddings, moderations, audio, images, models ---------------------------------------------


def _embedding_inputs(value: Any) -> int:
    if isinstance(value, list) and value and not isinstance(value[0], int):
        return len(value)
    return 1


def _embeddings(up: FakeUpstream, req: RecordedRequest, _match: re.Match[str]) -> Reply:
    body = _body(req)
    dims = int(body.get("dimensions") or up.embedding_dimensions)
    data = []
    for index in range(_embedding_inputs(body.get("input"))):
        vector = [round(0.001 * (index + 1) * (j + 1), 6) for j in range(dims)]
        embedding: Any = vector
        if body.get("encoding_format") == "base64":
            embedding = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    result: dict[str, Any] = {
        "object": "list",
        "data": data,
        "model": _model(up, req, "text-embedding-3-small"),
    }
    usage = _usage(up)
    if usage is not None:
        result["usage"] = {
            "prompt_tokens": usage["prompt_tokens"],
            "total_tokens": usage["prompt_tokens"],
        }
    return Reply(body=result)


def _moderations(up: FakeUpstream, req: RecordedRequest, _match: re.Match[str]) -> Reply:
    inputs = _body(req).get("input")
    count = len(inputs) if isinstance(inputs, list) else 1
    categories = ["harassment", "hate", "self-harm", "sexual", "violence"]
    result = {
        "flagged": False,
        "categories": dict.fromkeys(categories, False),
        "category_scores": dict.fromkeys(categories, 0.0001),
    }
    return Reply(
        body={
            "id": _new_id("modr-"),
            "model": _model(up, req, "omni-moderation-latest"),
            "results": [copy.deepcopy(result) for _ in range(count)],
        }
    )


_AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


def _speech(up: FakeUpstream, req: RecordedRequest, _match: re.Match[str]) -> Reply:
    audio_format = str(_body(req).get("response_format") or "mp3")
    content_type = _AUDIO_TYPES.get(audio_format, "audio/mpeg")
    return Reply(body=bytes(up.speech_bytes), headers={"Content-Type": content_type})


def _transcription(up: FakeUpstream, req: RecordedRequest, match: re.Match[str]) -> Reply:
    response_format = req.form.get("response_format", "json")
    text = up.transcription_text
    if response_format == "verbose_json":
        task = "translate" if match.group(1) == "translations" else "transcribe"
        segment = {
            "id": 0,
            "seek": 0,
            "start": 0.0,
            "end": up.audio_duration_s,
            "text": text,
            "tokens": [1, 2, 3],
            "temperature": 0.0,
            "avg_logprob": -0.1,
            "compression_ratio": 1.0,
            "no_speech_prob": 0.01,
        }
        return Reply(
            body={
                "task": task,
                "language": "english",
                "duration": up.audio_duration_s,
                "text": text,
                "segments": [segment],
            }
        )
    if response_format == "text":
        return Reply(body=text + "\n")
    if response_format in ("srt", "vtt"):
        return Reply(body=_subtitles(response_format, text, up.audio_duration_s))
    if "transcribe" in req.form.get("model", "") and up.transcription_usage is not None:
        # gpt-4o-transcribe models report token usage in json answers
        return Reply(body={"text": text, "usage": copy.deepcopy(up.transcription_usage)})
    return Reply(body={"text": text})


def _subtitles(kind: str, text: str, duration: float) -> str:
    end = time.strftime("%H:%M:%S", time.gmtime(duration))
    millis = int(round((duration % 1) * 1000))
    if kind == "srt":
        return f"1\n00:00:00,000 --> {end},{millis:03d}\n{text}\n\n"
    return f"WEBVTT\n\n00:00:00.000 --> {end}.{millis:03d}\n{text}\n\n"


_PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _images(up: FakeUpstream, req: RecordedRequest, _match: re.Match[str]) -> Reply:
    body = _body(req)
    count = int(body.get("n") or 1)
    if body.get("response_format") == "b64_json":
        items = [{"b64_json": base64.b64encode(_PNG_1X1).decode()} for _ in range(count)]
    else:
        items = [{"url": f"{up.url}/files/fake-image-{i}.png"} for i in range(count)]
    for item in items:
        item["revised_prompt"] = str(body.get("prompt", ""))
    result: dict[str, Any] = {"created": int(time.time()), "data": items}
    if str(body.get("model", "")).startswith("gpt-image") and up.image_usage is not None:
        result["usage"] = copy.deepcopy(up.image_usage)  # token-billed image models report usage
    return Reply(body=result)


def _model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "fake-upstream"}


def _models(up: FakeUpstream, req: RecordedRequest, _match: re.Match[str]) -> Reply:
    return Reply(body={"object": "list", "data": [_model_object(m) for m in up.models]})


def _model_by_id(up: FakeUpstream, req: RecordedRequest, match: re.Match[str]) -> Reply:
    return Reply(body=_model_object(match.group("id")))


# Anthropic messages -------------------------------------------------------------------------------


def _anthropic_usage(up: FakeUpstream) -> dict[str, int]:
    usage = _usage(up) or {"prompt_tokens": 0, "completion_tokens": 0}
    return {
        "input_tokens": int(usage["prompt_tokens"]),
        "output_tokens": int(usage["completion_tokens"]),
    }


def _anthropic_messages(up: FakeUpstream, req: RecordedRequest, _match: re.Match[str]) -> Reply:
    model = _model(up, req, "claude-3-5-haiku-latest")
    headers = {"request-id": _new_id("req_")}
    if _body(req).get("stream"):
        return Reply(headers={**SSE_HEADERS, **headers}, chunks=_anthropic_stream(up, model))
    message = {
        "id": _new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": up.content}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(up),
    }
    return Reply(body=message, headers=headers)


def _anthropic_stream(up: FakeUpstream, model: str) -> Iterator[Any]:
    usage = _anthropic_usage(up)
    message: dict[str, Any] = {
        "id": _new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1},
    }
    yield sse_event("message_start", {"type": "message_start", "message": message})
    yield sse_event(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    yield sse_event("ping", {"type": "ping"})
    yield from _content_chunks(
        up,
        lambda text: sse_event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text},
            },
        ),
    )
    yield sse_event("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield sse_event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": usage["output_tokens"]},
        },
    )
    yield sse_event("message_stop", {"type": "message_stop"})


def _count_tokens(up: FakeUpstream, req: RecordedRequest, _match: re.Match[str]) -> Reply:
    return Reply(body={"input_tokens": _anthropic_usage(up)["input_tokens"]})


# OpenAI Responses API -----------------------------------------------------------------------------


def _responses_usage(up: FakeUpstream) -> dict[str, Any] | None:
    usage = _usage(up)
    if usage is None:
        return None
    return {
        "input_tokens": int(usage["prompt_tokens"]),
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": int(usage["completion_tokens"]),
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": int(usage["prompt_tokens"]) + int(usage["completion_tokens"]),
    }


def _response_object(
    up: FakeUpstream, model: str, status: str, text: str | None, response_id: str = ""
) -> dict[str, Any]:
    output = []
    if text is not None:
        output.append({
            "id": _new_id("msg_"), "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        })  # fmt: skip
    return {
        "id": response_id or _new_id("resp_"), "object": "response", "created_at": int(time.time()),
        "status": status, "model": model, "output": output, "error": None,
        "incomplete_details": None, "parallel_tool_calls": True, "tool_choice": "auto",
        "tools": [], "usage": _responses_usage(up) if status == "completed" else None,
    }  # fmt: skip


def _responses(up: FakeUpstream, req: RecordedRequest, _match: re.Match[str]) -> Reply:
    body, model = _body(req), _model(up, req)
    if body.get("stream"):
        return Reply(headers=dict(SSE_HEADERS), chunks=_responses_stream(up, model))
    if body.get("background"):
        return Reply(body=_response_object(up, model, "queued", None))
    return Reply(body=_response_object(up, model, "completed", up.content))


def _responses_stream(up: FakeUpstream, model: str) -> Iterator[Any]:
    """The documented event sequence of a text response; `response.completed` ends it."""
    sequence = iter(range(1_000_000))
    started = _response_object(up, model, "in_progress", None)

    def event(kind: str, **fields: Any) -> str:
        return sse_event(kind, {"type": kind, "sequence_number": next(sequence), **fields})

    yield event("response.created", response=started)
    yield event("response.in_progress", response=started)
    item_id = _new_id("msg_")
    item = {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant",
            "content": []}  # fmt: skip
    yield event("response.output_item.added", output_index=0, item=item)
    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    yield event("response.content_part.added", **where,
                part={"type": "output_text", "text": "", "annotations": []})  # fmt: skip
    yield from _content_chunks(
        up, lambda text: event("response.output_text.delta", **where, delta=text, logprobs=[])
    )
    text = up.stream_text()
    part = {"type": "output_text", "text": text, "annotations": []}
    yield event("response.output_text.done", **where, text=text, logprobs=[])
    yield event("response.content_part.done", **where, part=part)
    done = {**item, "status": "completed", "content": [part]}
    yield event("response.output_item.done", output_index=0, item=done)
    completed = {**_response_object(up, model, "completed", text), "id": started["id"]}
    yield event("response.completed", response=completed)


def _response_by_id(up: FakeUpstream, req: RecordedRequest, match: re.Match[str]) -> Reply:
    """A stored response, completed, with its usage: retrieving it must not bill it again."""
    return Reply(
        body=_response_object(
            up, up.response_model or "gpt-4o", "completed", up.content, match.group("id")
        )  # fmt: skip
    )


def _response_cancel(up: FakeUpstream, req: RecordedRequest, match: re.Match[str]) -> Reply:
    return Reply(body=_response_object(up, "gpt-4o", "cancelled", None, match.group("id")))


def _input_tokens(up: FakeUpstream, req: RecordedRequest, _match: re.Match[str]) -> Reply:
    return Reply(body={"object": "response.input_tokens", "input_tokens": 11})


def _empty_page(up: FakeUpstream, req: RecordedRequest, _match: re.Match[str]) -> Reply:
    return Reply(body={"object": "list", "data": [], "first_id": None, "last_id": None,
                       "has_more": False})  # fmt: skip


_LIST_PATHS = re.compile(
    r"/(?:chat/completions(?:/[^/]+/messages)?|responses/[^/]+/input_items"
    r"|conversations/[^/]+/items|vector_stores(?:/[^/]+/files)?|fine_tuning/jobs(?:/[^/]+/events)?"
    r"|containers)$"
)

_Builder = Callable[[FakeUpstream, RecordedRequest, "re.Match[str]"], Reply]

_ROUTES: list[tuple[str, re.Pattern[str], _Builder]] = [
    ("POST", re.compile(r"/chat/completions$"), _chat),
    ("POST", re.compile(r"/completions$"), _completion),
    ("POST", re.compile(r"/embeddings$"), _embeddings),
    ("POST", re.compile(r"/moderations$"), _moderations),
    ("POST", re.compile(r"/audio/speech$"), _speech),
    ("POST", re.compile(r"/audio/(transcriptions|translations)$"), _transcription),
    ("POST", re.compile(r"/images/generations$"), _images),
    ("POST", re.compile(r"/v1/messages$"), _anthropic_messages),
    ("POST", re.compile(r"/v1/messages/count_tokens$"), _count_tokens),
    ("POST", re.compile(r"/responses$"), _responses),
    ("POST", re.compile(r"/responses/input_tokens$"), _input_tokens),
    ("POST", re.compile(r"/responses/(?P<id>[^/]+)/cancel$"), _response_cancel),
    ("GET", re.compile(r"/responses/(?P<id>[^/]+)$"), _response_by_id),
    ("GET", _LIST_PATHS, _empty_page),
    ("GET", re.compile(r"/models$"), _models),
    ("GET", re.compile(r"/models/(?P<id>.+)$"), _model_by_id),
]
