"""Usage reports for the admin API: metrics per time bucket (optionally grouped), latency
percentiles, keys ranked by spend, and the user and custom ids seen on a key.

Money leaves here in USD (from integer micro-dollars); latencies are milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.domain.money import micros_to_usd
from app.storage.events import EventFilter
from app.storage.keys import KeyFilter
from app.storage.reporting import Bucket, ReportingRepository

MEDIAN, P99 = 0.5, 0.99


class ReportingService:
    def __init__(self, reports: ReportingRepository) -> None:
        self._reports = reports

    def metrics(
        self, selection: EventFilter, increment: int, group_by: Sequence[str]
    ) -> dict[str, Any]:
        """`POST /api/reporting/events`: one data point per non-empty bucket (and group), and the
        median and 99th percentile latency over exactly the selected events."""
        # The two reads scan the same events: run them side by side on two connections (threads,
        # or greenlets under the gevent worker, where psycopg2 waits cooperatively).
        with ThreadPoolExecutor(max_workers=1) as pool:
            percentiles = pool.submit(self._reports.latency_percentiles, selection, (MEDIAN, P99))
            buckets = self._reports.buckets(selection, increment, group_by)
            median, p99 = percentiles.result()
        return {
            "dataPoints": [_data_point(b) for b in buckets],
            "latencyInMsMedian": median,
            "latencyInMs99th": p99,
        }

    def top_keys(
        self, selection: EventFilter, keys: KeyFilter | None, descending: bool,
        limit: int | None, offset: int,
    ) -> dict[str, Any]:  # fmt: skip
        """`POST /api/reporting/top-keys`: keys with spend in the window, by spend."""
        ranked = self._reports.spend_by_key(selection, keys, descending, limit, offset)
        return {"dataPoints": [{"keyId": k, "costInUsd": micros_to_usd(c)} for k, c in ranked]}

    def user_ids(self, key_id: str) -> list[str]:
        return self._reports.distinct_ids("user_id", key_id)

    def custom_ids(self, key_id: str) -> list[str]:
        return self._reports.distinct_ids("custom_id", key_id)


def _data_point(bucket: Bucket) -> dict[str, Any]:
    return {
        "timeStamp": bucket.time_stamp,
        "numberOfRequests": bucket.requests,
        "costInUsd": micros_to_usd(bucket.cost_micros),
        "latencyInMs": bucket.latency_ms,
        "promptTokenCount": bucket.prompt_tokens,
        "completionTokenCount": bucket.completion_tokens,
        "successCount": bucket.successes,
        "keyId": bucket.group.get("keyId", ""),
        "model": bucket.group.get("model", ""),
        "customId": bucket.group.get("customId", ""),
        "userId": bucket.group.get("userId", ""),
    }
