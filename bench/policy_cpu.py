"""Policy engine CPU: added time per request for a 2 KB chat prompt under a policy with every
pattern entity and 5 regex rules, and how long a 400 KB prompt holds the gevent hub.

Run: `.venv/bin/python -m bench.policy_cpu` (numbers go to the README's Policies section).
"""

# ruff: noqa: E402 - gevent patches the standard library before the other imports
from __future__ import annotations

import gevent.monkey

gevent.monkey.patch_all()  # before anything imports ssl or sockets, as in a gunicorn worker

import json
import statistics
import time

import gevent

from app.config import Settings
from app.domain.policies import Policy, RegexRule
from app.pii.detectors import build_detectors
from app.pii.patterns import CLOUD_ONLY, PATTERNS
from app.policies.engine import inspect_request
from app.policies.offload import inspect_request_cooperatively

DETECTORS = build_detectors(Settings())
REGEXES = (r"\bproject-[a-z]+\b", r"(?i)confidential", r"\binternal-\d{4}\b",
           r"(?i)\bcodename\s+\w+", r"\b[A-Z]{3}-\d{6}\b")  # fmt: skip
POLICY = Policy(
    id="bench", created_at=0, updated_at=0,
    rules={p.entity: "allow_but_redact" for p in PATTERNS if p.entity not in CLOUD_ONLY},
    regex_rules=tuple(RegexRule(r, "allow_but_redact") for r in REGEXES),
)  # fmt: skip
PROSE = ("We reviewed the quarterly roadmap with the platform team and agreed to move the "
         "migration to the next sprint, since two services still depend on the old queue. ")  # fmt: skip
PII = " Reach me at jane.doe@example.com or 415-555-2671; the server is 10.0.0.12. "


def chat_body(size: int, with_pii: bool, dense: bool = False) -> bytes:
    if dense:  # the worst case: PII in every sentence
        text = ((PROSE[:80] + PII) * (size // (80 + len(PII)) + 1))[:size]
        return json.dumps(
            {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
        ).encode()
    text = (PROSE * (size // len(PROSE) + 1))[: size - (len(PII) if with_pii else 0)]
    if with_pii:
        text = text[: len(text) // 2] + PII + text[len(text) // 2 :]
    body = {"model": "gpt-4o", "messages": [{"role": "system", "content": "You are helpful."},
                                            {"role": "user", "content": text}]}  # fmt: skip
    return json.dumps(body).encode()


def per_call_ms(body: bytes, rounds: int) -> float:
    """CPU time per inspection (the thread's CPU clock: the OS running other processes on a
    busy machine does not count), median of 5 runs."""
    parsed = json.loads(body)
    inspect_request(POLICY, DETECTORS, body, parsed)  # compile and warm caches
    samples = []
    for _ in range(5):
        started = time.thread_time()
        for _ in range(rounds):
            inspect_request(POLICY, DETECTORS, body, parsed)
        samples.append((time.thread_time() - started) / rounds * 1000)
    return statistics.median(samples)


def hub_stall_ms(body: bytes, cooperative: bool) -> tuple[float, float]:
    """(longest gap between 1 ms ticks of another greenlet, inspection time) while a 400 KB body
    is inspected."""
    parsed = json.loads(body)
    gaps: list[float] = []
    done = False

    def ticker() -> None:
        last = time.perf_counter()
        while not done:
            gevent.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = gevent.spawn(ticker)
    gevent.sleep(0.01)
    started = time.perf_counter()
    inspect = inspect_request_cooperatively if cooperative else inspect_request
    inspect(POLICY, DETECTORS, body, parsed)
    elapsed = time.perf_counter() - started
    gevent.sleep(0.01)
    done = True
    tick.join()
    return max(gaps) * 1000, elapsed * 1000


def longest_stretch_ms(body: bytes) -> tuple[float, float]:
    """(longest CPU time between two pauses, total CPU time) of a cooperative inspection,
    measured with the thread's CPU clock so that the OS preempting the process (other load on
    the machine) is not counted as the hub being held."""
    parsed = json.loads(body)
    stretches: list[float] = []
    last = time.thread_time()

    def pause() -> None:
        nonlocal last
        now = time.thread_time()
        stretches.append(now - last)
        last = now

    started = time.thread_time()
    inspect_request(POLICY, DETECTORS, body, parsed, pause=pause)
    stretches.append(time.thread_time() - last)
    return max(stretches) * 1000, (time.thread_time() - started) * 1000


def stream_delta_ms() -> float:
    """Redacting a streamed answer: time per delta of about 4 words."""
    from app.policies.responses import StreamRedactor

    words = (PROSE + PII).split(" ")
    deltas = [" ".join(words[i : i + 4]) + " " for i in range(0, len(words), 4)] * 20
    started = time.thread_time()
    redactor = StreamRedactor(POLICY, DETECTORS)
    for delta in deltas:
        redactor.feed(delta)
    redactor.finish()
    return (time.thread_time() - started) / len(deltas) * 1000


def main() -> None:
    for size, pii in ((2048, False), (2048, True)):
        body = chat_body(size, pii)
        label = "with 3 PII" if pii else "no PII"
        print(f"2 KB chat prompt ({label}): {per_call_ms(body, 300):.3f} ms of CPU per request")
    print(f"streamed answer: {stream_delta_ms():.3f} ms of CPU per delta (256-character hold-back)")
    for dense in (False, True):
        big = chat_body(400 * 1024, True, dense)
        label = "PII in every sentence" if dense else "3 PII"
        for cooperative in (False, True):
            stall, elapsed = hub_stall_ms(big, cooperative)
            how = "in windows, yielding" if cooperative else "in one piece"
            print(f"400 KB prompt ({label}) {how}: longest gap between 1 ms ticks of another "
                  f"greenlet {stall:.1f} ms, inspection {elapsed:.1f} ms (wall clock)")  # fmt: skip
        stretch, cpu = longest_stretch_ms(big)
        print(f"400 KB prompt ({label}): longest CPU stretch between two yields {stretch:.1f} ms "
              f"of {cpu:.1f} ms CPU")  # fmt: skip


if __name__ == "__main__":
    main()
