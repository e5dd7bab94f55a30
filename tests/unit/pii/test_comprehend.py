"""The Comprehend detector against a local HTTP stand-in of DetectPiiEntities (botocore's
endpoint_url): findings, text splitting, concurrency, timeouts and failures."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.config import Settings
from app.pii.base import DetectorUnavailable, Finding
from app.pii.comprehend import ComprehendDetector, ComprehendOptions, split_text
from app.pii.detectors import build_detectors


class StandIn:
    """Answers DetectPiiEntities: every "Jane Doe" is a NAME, every "Main St" an ADDRESS."""

    def __init__(self, delay_s: float = 0.0, status: int = 200) -> None:
        self.delay_s, self.status = delay_s, status
        self.calls: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.record(self.headers["X-Amz-Target"], body)
                time.sleep(stand_in.delay_s)
                payload = stand_in.answer(body) if stand_in.status == 200 else {
                    "__type": "InternalServerException", "message": "boom"}  # fmt: skip
                data = json.dumps(payload).encode()
                self.send_response(stand_in.status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                with stand_in._lock:
                    stand_in.in_flight -= 1

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, target, body):
        with self._lock:
            self.calls.append({"target": target, **body})
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    @staticmethod
    def answer(body):
        text = body["Text"]
        found = []
        for needle, kind in (("Jane Doe", "NAME"), ("Main St", "ADDRESS"), ("a@b.co", "EMAIL")):
            start = text.find(needle)
            while start >= 0:
                found.append({"Type": kind, "Score": 0.99, "BeginOffset": start,
                              "EndOffset": start + len(needle)})  # fmt: skip
                start = text.find(needle, start + 1)
        return {"Entities": found}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in():
    server = StandIn()
    yield server
    server.close()


def detector(url, timeout_s=2.0):
    return ComprehendDetector(ComprehendOptions("AKIDEXAMPLE", "secret", "us-west-2", timeout_s,
                                                timeout_s, endpoint_url=url))  # fmt: skip


def test_findings_are_mapped_to_rule_names_and_filtered(stand_in):
    found = detector(stand_in.url).detect(
        ["Hi, Jane Doe here", "nothing", "12 Main St, mail a@b.co"], frozenset({"name", "address"})
    )
    assert found == [[Finding(4, 12, "name")], [], [Finding(3, 10, "address")]]
    assert {c["target"] for c in stand_in.calls} == {"Comprehend_20171127.DetectPiiEntities"}
    assert {c["LanguageCode"] for c in stand_in.calls} == {"en"}


def test_long_texts_are_split_under_the_limit_and_offsets_stay_right(stand_in):
    text = ("word " * 50_000) + "Jane Doe" + (" filler" * 20_000)
    [found] = detector(stand_in.url).detect([text], frozenset({"name"}))
    assert [text[f.start : f.end] for f in found] == ["Jane Doe"]
    assert len(stand_in.calls) == 4
    assert all(len(c["Text"].encode()) <= 100_000 for c in stand_in.calls)
    assert (
        "".join(c["Text"] for c in sorted(stand_in.calls, key=lambda c: text.find(c["Text"])))
        == text
    )


def test_split_never_cuts_a_character_and_covers_the_text():
    text = "é" * 70_000 + " " + "日本" * 40_000
    pieces = split_text(text)
    assert "".join(p for _, p in pieces) == text
    assert all(len(p.encode()) <= 100_000 for _, p in pieces)
    assert all(text[o : o + len(p)] == p for o, p in pieces)


def test_the_calls_of_one_request_run_concurrently():
    server = StandIn(delay_s=0.3)
    try:
        started = time.monotonic()
        found = detector(server.url).detect(["Jane Doe"] * 4, frozenset({"name"}))
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert all(f == [Finding(0, 8, "name")] for f in found)
    assert server.max_in_flight == 4 and elapsed < 1.0


def test_a_slow_answer_times_out_as_unavailable():
    server = StandIn(delay_s=1.5)
    try:
        started = time.monotonic()
        with pytest.raises(DetectorUnavailable):
            detector(server.url, timeout_s=0.3).detect(["Jane Doe"], frozenset({"name"}))
        assert time.monotonic() - started < 1.2
        assert len(server.calls) == 1  # not retried
    finally:
        server.close()


def test_an_error_answer_is_unavailable():
    server = StandIn(status=500)
    try:
        with pytest.raises(DetectorUnavailable):
            detector(server.url).detect(["Jane Doe"], frozenset({"name"}))
    finally:
        server.close()


def test_comprehend_serves_only_what_patterns_cannot(stand_in):
    settings = Settings(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    detectors = build_detectors(settings, endpoint_url=stand_in.url)
    [found] = detectors.detect(["Jane Doe, mail a@b.co"], frozenset({"name", "email"}))
    assert found == [Finding(0, 8, "name"), Finding(15, 21, "email")]
    assert len(stand_in.calls) == 1  # the email came from the local detector


def test_without_credentials_a_cloud_entity_cannot_be_checked():
    detectors = build_detectors(Settings())
    with pytest.raises(DetectorUnavailable, match="name"):
        detectors.detect(["Jane Doe"], frozenset({"name", "email"}))
    assert detectors.detect(["x a@b.co"], frozenset({"email"})) == [[Finding(2, 8, "email")]]
