"""The AWS Comprehend detector: `DetectPiiEntities` through boto3, for the entities a pattern
cannot find (names, addresses, ages, licence plates).

Used when AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set (region AMAZON_REGION). Each call
has a connect timeout (AMAZON_CONNECTION_TIMEOUT) and a read timeout (AMAZON_REQUEST_TIMEOUT)
and is not retried: a policy check must not hold a request for several timeouts. Texts longer
than the API's limit (100 KB of UTF-8 per call) are cut at whitespace into pieces under it, and
all the pieces of one request are sent concurrently (greenlets under gunicorn's gevent worker).
Any failure raises `DetectorUnavailable`; the policy's `onDetectorFailure` decides what follows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.pii.base import DetectorUnavailable, Finding
from app.pii.patterns import CLOUD_ONLY

log = logging.getLogger(__name__)

MAX_TEXT_BYTES = 100_000  # DetectPiiEntities refuses a Text over 100 KB of UTF-8
MAX_CONCURRENT_CALLS = 8


@dataclass(frozen=True)
class ComprehendOptions:
    access_key_id: str
    secret_access_key: str
    region: str
    request_timeout_s: float
    connection_timeout_s: float
    endpoint_url: str | None = None  # tests point this at a local stand-in
    language: str = "en"


def split_text(text: str, max_bytes: int = MAX_TEXT_BYTES) -> list[tuple[int, str]]:
    """`text` as (character offset, piece) pairs, each piece at most `max_bytes` of UTF-8, cut at
    the last whitespace before the limit when there is one (so a word stays whole)."""
    data = text.encode("utf-8")
    pieces: list[tuple[int, str]] = []
    start, chars = 0, 0
    while len(data) - start > max_bytes:
        end = start + max_bytes
        while data[end] & 0xC0 == 0x80:  # never inside a character
            end -= 1
        cut = max(data.rfind(b" ", start, end), data.rfind(b"\n", start, end))
        if cut > start + max_bytes // 2:
            end = cut + 1
        piece = data[start:end].decode("utf-8")
        pieces.append((chars, piece))
        chars, start = chars + len(piece), end
    pieces.append((chars, data[start:].decode("utf-8")))
    return pieces


class ComprehendDetector:
    name = "comprehend"
    entities = CLOUD_ONLY

    def __init__(self, options: ComprehendOptions) -> None:
        self._options = options
        self._client: Any = None
        self._lock = threading.Lock()

    def detect(self, texts: Sequence[str], entities: frozenset[str]) -> list[list[Finding]]:
        calls = [(i, offset, piece) for i, text in enumerate(texts)
                 for offset, piece in split_text(text) if piece.strip()]  # fmt: skip
        found: list[list[Finding]] = [[] for _ in texts]
        if not calls:
            return found
        client = self._get_client()
        workers = min(MAX_CONCURRENT_CALLS, len(calls))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="comprehend") as pool:
            answers = list(pool.map(lambda call: self._call(client, call[2]), calls))
        for (index, offset, _), entities_found in zip(calls, answers, strict=True):
            for item in entities_found:
                entity = str(item.get("Type", "")).lower()
                if entity in entities:
                    found[index].append(
                        Finding(offset + item["BeginOffset"], offset + item["EndOffset"], entity)
                    )
        return found

    def _call(self, client: Any, text: str) -> list[dict[str, Any]]:
        try:
            answer = client.detect_pii_entities(Text=text, LanguageCode=self._options.language)
        except (BotoCoreError, ClientError) as exc:
            log.warning("AWS Comprehend failed: %s", type(exc).__name__)
            raise DetectorUnavailable(f"AWS Comprehend failed: {type(exc).__name__}") from exc
        return list(answer.get("Entities", []))

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    def _build_client(self) -> Any:
        options = self._options
        config = Config(
            connect_timeout=options.connection_timeout_s,
            read_timeout=options.request_timeout_s,
            retries={"total_max_attempts": 1},
            max_pool_connections=MAX_CONCURRENT_CALLS,
        )
        return boto3.session.Session().client(
            "comprehend",
            region_name=options.region,
            aws_access_key_id=options.access_key_id,
            aws_secret_access_key=options.secret_access_key,
            endpoint_url=options.endpoint_url,
            config=config,
        )
