"""Which detector serves which entity, behind the one `Detector` interface.

The local detector serves every pattern entity; AWS Comprehend, when its credentials are set,
serves the entities that need a language model (`CLOUD_ONLY`). A policy naming an entity no
configured detector serves cannot be checked: `detect` raises `DetectorUnavailable`, and the
policy's `onDetectorFailure` decides (block with 503 by default).
"""

from __future__ import annotations

from collections.abc import Sequence

from app.config import Settings
from app.pii.base import Detector, DetectorUnavailable, Finding
from app.pii.comprehend import ComprehendDetector, ComprehendOptions
from app.pii.local import LocalDetector, Pause


class Detectors:
    """Every configured detector; `detect` sends each one the entities it serves."""

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self._detectors = tuple(detectors)

    @property
    def entities(self) -> frozenset[str]:
        return frozenset().union(*(d.entities for d in self._detectors))

    def warm(self) -> None:
        """Load now what the first request would load (compiled patterns, phone metadata,
        Comprehend's client and botocore's service models), so that a worker loads it before
        `gc.freeze()` and the garbage collector's full passes never walk it: measured, botocore's
        models alone make a full pass take about 100 ms, in the middle of some request."""
        for detector in self._detectors:
            warm = getattr(detector, "warm", None)
            if warm is not None:
                warm()

    def detect(
        self, texts: Sequence[str], entities: frozenset[str], pause: Pause | None = None
    ) -> list[list[Finding]]:
        """Findings per text for `entities`, sorted by position; DetectorUnavailable when one
        is served by no detector or a detector fails. `pause` is called between the local
        detector's windows of a long text (Comprehend waits on the network, which yields)."""
        found: list[list[Finding]] = [[] for _ in texts]
        failures = []
        missing = entities - self.entities
        if missing:
            names = ", ".join(sorted(missing))
            failures.append(f"no PII detector serves {names} (AWS Comprehend is not set up)")
        for detector in self._detectors:
            wanted = entities & detector.entities
            if not wanted:
                continue
            try:
                answers = (
                    detector.detect(texts, wanted, pause)
                    if isinstance(detector, LocalDetector)
                    else detector.detect(texts, wanted)
                )
            except DetectorUnavailable as exc:
                failures.append(str(exc))
                continue
            for index, findings in enumerate(answers):
                found[index] += findings
        found = [sorted(f) for f in found]
        if failures:
            raise DetectorUnavailable("; ".join(failures), partial=found)
        return found


def build_detectors(settings: Settings, endpoint_url: str | None = None) -> Detectors:
    """The local detector, plus Comprehend when AWS credentials are configured."""
    detectors: list[Detector] = [LocalDetector()]
    if settings.aws_access_key_id and settings.aws_secret_access_key:
        options = ComprehendOptions(
            access_key_id=settings.aws_access_key_id,
            secret_access_key=settings.aws_secret_access_key,
            region=settings.amazon_region,
            request_timeout_s=settings.amazon_request_timeout,
            connection_timeout_s=settings.amazon_connection_timeout,
            endpoint_url=endpoint_url,
        )
        detectors.append(ComprehendDetector(options))
    return Detectors(detectors)
