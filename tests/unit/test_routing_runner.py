"""RouteRunner with a scripted fake attempt and a fake clock: order, retries, waits, verdicts."""

from __future__ import annotations

import json

import pytest

from app.domain.routes import Route, RouteStep
from app.routing.outcome import Failure, Verdict, answered, failed
from app.routing.runner import RouteRunner


class Clock:
    """A fake monotonic clock; sleeping advances it and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Upstream:
    """Answers each call with the next scripted outcome of the step's provider; records calls."""

    def __init__(self, clock: Clock, script: dict[str, list], cost_s: float = 0.0) -> None:
        self.clock = clock
        self.script = {provider: list(outcomes) for provider, outcomes in script.items()}
        self.calls: list[tuple[str, dict, float]] = []
        self.cost_s = cost_s

    def __call__(self, step: RouteStep, body: bytes, deadline: float):
        self.calls.append((step.provider, json.loads(body), deadline - self.clock.now))
        self.clock.now += self.cost_s
        outcome = self.script[step.provider].pop(0)
        if isinstance(outcome, Failure):
            return failed(outcome)
        if isinstance(outcome, tuple):
            status, retry_after = outcome
            return answered(status, f"{step.provider}:{status}", retry_after_s=retry_after)
        return answered(outcome, f"{step.provider}:{outcome}")


def route(*steps: RouteStep, strategy: str = "") -> Route:
    return Route(id="r1", name="r", path="/p", created_at=0, updated_at=0, steps=steps,
                 key_ids=("k",), retry_strategy=strategy)  # fmt: skip


PRIMARY = RouteStep("azure", "gpt-4o", retries=2, timeout="5s", retry_interval="200ms")
SECONDARY = RouteStep("openai", "gpt-4o-mini", timeout="30s", request_params={"temperature": 0})
REQUEST = {"model": "client-model", "messages": [{"role": "user", "content": "hi"}], "x": 1}


def run(script, *steps, deadline=None, strategy="", rng=lambda: 0.5, cost_s=0.0):
    clock = Clock()
    upstream = Upstream(clock, script, cost_s)
    released: list[str] = []
    runner = RouteRunner(route(*steps, strategy=strategy), upstream, sleep=clock.sleep,
                         clock=clock, rng=rng, release=released.append)  # fmt: skip
    outcome = runner.run(REQUEST, None if deadline is None else clock.now + deadline)
    return outcome, upstream, clock, released


def test_first_step_fails_twice_then_the_second_step_serves_with_its_own_model_and_params():
    script = {"azure": [500, 502, 503], "openai": [200]}
    outcome, upstream, clock, released = run(script, PRIMARY, SECONDARY)
    assert outcome.succeeded and outcome.result.response == "openai:200"
    assert [(c[0], c[1]["model"]) for c in upstream.calls] == [
        ("azure", "gpt-4o"),
        ("azure", "gpt-4o"),
        ("azure", "gpt-4o"),
        ("openai", "gpt-4o-mini"),
    ]
    assert upstream.calls[3][1] == {"model": "gpt-4o-mini", "messages": REQUEST["messages"],
                                    "x": 1, "temperature": 0}  # fmt: skip
    assert [c[2] for c in upstream.calls] == [5.0, 5.0, 5.0, 30.0]  # each try its own deadline
    assert clock.sleeps == [0.2, 0.2]  # constant interval between a step's tries only
    assert [(a.step_index, a.try_number, a.status, a.verdict) for a in outcome.attempts] == [
        (0, 0, 500, Verdict.RETRY), (0, 1, 502, Verdict.RETRY), (0, 2, 503, Verdict.RETRY),
        (1, 0, 200, Verdict.SUCCESS)]  # fmt: skip
    assert outcome.attempts[3].provider == "openai" and outcome.attempts[3].model == "gpt-4o-mini"
    assert released == ["azure:500", "azure:502", "azure:503"]
    assert outcome.final_step == 1


def test_a_client_error_is_returned_at_once_without_retry_or_failover():
    outcome, upstream, _, released = run({"azure": [400], "openai": [200]}, PRIMARY, SECONDARY)
    assert outcome.result.status == 400 and outcome.result.response == "azure:400"
    assert len(upstream.calls) == 1 and not outcome.succeeded and released == []
    assert outcome.attempts[0].verdict is Verdict.FINAL


def test_all_steps_failing_return_the_last_upstream_answer():
    script = {"azure": [500, 500, 500], "openai": [429]}
    outcome, upstream, _, released = run(script, PRIMARY, SECONDARY)
    assert outcome.result.status == 429 and outcome.result.response == "openai:429"
    assert len(upstream.calls) == 4 and not outcome.succeeded
    assert released == ["azure:500", "azure:500", "azure:500"]


def test_the_last_answer_survives_later_timeouts_and_no_answer_at_all_is_none():
    script = {"azure": [503, Failure.TIMEOUT, Failure.CONNECTION], "openai": [Failure.TIMEOUT]}
    outcome, _, _, _ = run(script, PRIMARY, SECONDARY)
    assert outcome.result.status == 503
    script = {"azure": [Failure.CONNECTION] * 3, "openai": [Failure.TIMEOUT]}
    outcome, upstream, _, _ = run(script, PRIMARY, SECONDARY)
    assert outcome.result is None and len(upstream.calls) == 4 and outcome.final_step is None
    assert [a.failure for a in outcome.attempts][-1] is Failure.TIMEOUT


def test_a_stalled_step_times_out_and_the_next_step_serves():
    stalled = RouteStep("azure", "gpt-4o", timeout="2s")
    outcome, upstream, _, _ = run({"azure": [Failure.TIMEOUT], "openai": [200]}, stalled, SECONDARY)
    assert outcome.succeeded and upstream.calls[0][2] == 2.0


def test_retry_after_is_honoured_when_it_fits_the_deadline():
    script = {"azure": [(429, 3.0), 200]}
    outcome, _, clock, _ = run(script, PRIMARY, deadline=10.0)
    assert outcome.succeeded and clock.sleeps == [3.0]


def test_a_retry_after_beyond_the_deadline_gives_up_the_step_and_fails_over_at_once():
    script = {"azure": [(429, 30.0)], "openai": [200]}
    outcome, upstream, clock, _ = run(script, PRIMARY, SECONDARY, deadline=10.0)
    assert outcome.succeeded and clock.sleeps == []
    assert [c[0] for c in upstream.calls] == ["azure", "openai"]


def test_the_request_deadline_cuts_each_try_and_ends_the_route():
    script = {"azure": [Failure.TIMEOUT] * 3, "openai": [200]}
    outcome, upstream, _, _ = run(script, PRIMARY, SECONDARY, deadline=6.0, cost_s=5.0)
    # 5 s for the first try, then a 0.2 s wait; the second try has 0.8 s left, then none.
    assert [round(c[2], 3) for c in upstream.calls] == [5.0, 0.8]
    assert outcome.result is None


def test_a_refused_address_skips_the_step_without_retrying_it():
    script = {"azure": [Failure.REFUSED_ADDRESS], "openai": [200]}
    outcome, upstream, clock, _ = run(script, PRIMARY, SECONDARY)
    assert [c[0] for c in upstream.calls] == ["azure", "openai"] and clock.sleeps == []
    assert outcome.attempts[0].verdict is Verdict.NEXT_STEP


@pytest.mark.parametrize(("rng", "expected"), [(0.0, [0.1, 0.2]), (0.999999, [0.2, 0.4])])
def test_exponential_backoff_doubles_with_jitter_between_half_and_whole(rng, expected):
    script = {"azure": [500, 500, 200]}
    outcome, _, clock, _ = run(script, PRIMARY, strategy="exponential", rng=lambda: rng)
    assert outcome.succeeded
    assert [round(s, 4) for s in clock.sleeps] == expected


def test_a_committed_stream_is_never_failed_over():
    clock = Clock()
    calls = []

    def attempt(step, body, deadline):
        calls.append(step.provider)
        return failed(Failure.CONNECTION, committed=True)  # reset after the first byte

    runner = RouteRunner(route(PRIMARY, SECONDARY), attempt, sleep=clock.sleep, clock=clock)
    outcome = runner.run(REQUEST)
    assert calls == ["azure"] and outcome.attempts[0].verdict is Verdict.FINAL
    assert outcome.result.committed and not outcome.succeeded


def test_a_reset_before_the_first_byte_fails_over():
    script = {"azure": [Failure.CONNECTION] * 3, "openai": [200]}
    outcome, upstream, _, _ = run(script, PRIMARY, SECONDARY)
    assert outcome.succeeded and len(upstream.calls) == 4


def test_the_client_request_is_not_changed():
    run({"azure": [200]}, PRIMARY)
    assert REQUEST["model"] == "client-model" and "temperature" not in REQUEST
