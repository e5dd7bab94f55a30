"""The pure pieces of route execution: step bodies, verdicts, backoff and Retry-After, the plan."""

from __future__ import annotations

import json

import pytest

from app.domain.routes import Route, RouteStep
from app.routing.backoff import MAX_BACKOFF_S, backoff_delay, parse_retry_after, retry_wait
from app.routing.body import RouteRequestError, apply_step, parse_request, route_operation
from app.routing.outcome import AttemptResult, Failure, Verdict, answered, classify, failed
from app.routing.plan import attempt_deadline, attempt_plan


def test_apply_step_replaces_model_and_params_in_place_and_keeps_unknown_fields():
    request = parse_request(b'{"model":"a","messages":[],"temperature":1,"vendor_x":{"y":2}}')
    step = RouteStep("openai", "gpt-4o", request_params={"temperature": 0.1, "stop": ["Z"]})
    sent = apply_step(request, step)
    assert json.loads(sent) == {"model": "gpt-4o", "messages": [], "temperature": 0.1,
                                "vendor_x": {"y": 2}, "stop": ["Z"]}  # fmt: skip
    assert list(json.loads(sent)) == ["model", "messages", "temperature", "vendor_x", "stop"]
    assert request["model"] == "a"
    assert (
        apply_step({"input": "é"}, RouteStep("openai", "m")) == '{"input":"é","model":"m"}'.encode()
    )


@pytest.mark.parametrize("body", [b"[1]", b"nope", b"\xff", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_refused(body):
    with pytest.raises(RouteRequestError):
        parse_request(body)


def test_the_operation_follows_request_format_then_the_request_shape():
    def route(fmt=""):
        return Route("r", "n", "/p", 0, 0, (RouteStep("openai", "m"),), ("k",), request_format=fmt)

    assert route_operation(route(), {"messages": []}) == "chat"
    assert route_operation(route(), {"input": "x"}) == "embeddings"
    assert route_operation(route("openai_chat_completion"), {"input": "x"}) == "chat"
    assert route_operation(route("openai_embeddings"), {"messages": []}) == "embeddings"


@pytest.mark.parametrize(
    ("result", "verdict"),
    [
        (answered(200, None), Verdict.SUCCESS),
        (answered(201, None), Verdict.SUCCESS),
        (answered(500, None), Verdict.RETRY),
        (answered(503, None), Verdict.RETRY),
        (answered(429, None), Verdict.RETRY),
        (answered(400, None), Verdict.FINAL),
        (answered(401, None), Verdict.FINAL),
        (answered(404, None), Verdict.FINAL),
        (answered(302, None), Verdict.FINAL),
        (failed(Failure.TIMEOUT), Verdict.RETRY),
        (failed(Failure.CONNECTION), Verdict.RETRY),
        (failed(Failure.REFUSED_ADDRESS), Verdict.NEXT_STEP),
        (failed(Failure.CONNECTION, committed=True), Verdict.FINAL),
        (answered(500, None, committed=True), Verdict.FINAL),
        (answered(200, None, committed=True), Verdict.SUCCESS),
    ],
)
def test_classify(result: AttemptResult[None], verdict):
    assert classify(result) is verdict


def test_backoff_delays():
    assert backoff_delay(False, 1.5, 3, lambda: 0.9) == 1.5
    assert backoff_delay(True, 1.0, 1, lambda: 0.0) == 0.5
    assert backoff_delay(True, 1.0, 3, lambda: 0.0) == 2.0
    assert backoff_delay(True, 1.0, 3, lambda: 0.5) == 3.0
    assert backoff_delay(True, 1.0, 30, lambda: 0.99) <= MAX_BACKOFF_S
    assert backoff_delay(False, 120.0, 1, lambda: 0.0) == MAX_BACKOFF_S


def test_retry_wait_honours_retry_after_only_when_it_fits():
    assert retry_wait(0.2, None, 100.0, None) == 0.2
    assert retry_wait(0.2, 3.0, 100.0, 110.0) == 3.0
    assert retry_wait(5.0, 1.0, 100.0, 110.0) == 5.0  # the backoff is longer: it wins
    assert retry_wait(0.2, 30.0, 100.0, 110.0) is None  # beyond the deadline
    assert retry_wait(0.2, 61.0, 100.0, None) is None  # beyond the cap without a deadline
    assert retry_wait(0.2, None, 100.0, 100.1) is None  # no time left for the wait


def test_parse_retry_after_seconds_and_http_dates():
    now = 1_700_000_000.0
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after("-3", now) == 0.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", now) == 10.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now) == 0.0
    for junk in (None, "", "soon", "Tue, 99 Nov"):
        assert parse_retry_after(junk, now) is None


def test_the_plan_tries_each_step_retries_plus_one_times_in_order():
    route = Route("r", "n", "/p", 0, 0,
                  (RouteStep("azure", "a", retries=2), RouteStep("openai", "b")), ("k",))  # fmt: skip
    plan = attempt_plan(route)
    assert [(p.step_index, p.try_number, p.is_retry) for p in plan] == [
        (0, 0, False), (0, 1, True), (0, 2, True), (1, 0, False)]  # fmt: skip
    step = RouteStep("openai", "b", timeout="5s")
    assert attempt_deadline(step, 100.0, None) == 105.0
    assert attempt_deadline(step, 100.0, 102.0) == 102.0
    assert RouteStep("openai", "b").timeout_s == 300.0  # the 5m default
