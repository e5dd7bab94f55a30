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
from app.pii.local import LocalDetector


class Detectors:
    """Every configured detector; `detect` sends each one the entities it serves."""

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self._detectors = tuple(detectors)

    @property
    def entities(self) -> frozenset[str]:
        return frozenset().union(*(d.entities for d in self._detectors))

    def detect(self, texts: Sequence[str], entities: frozenset[str]) -> list[list[Finding]]:
        """Findings per text for `entities`, sorted by position; DetectorUnavailable when one
        is served by no detector or a detector fails."""
        missing = entities - self.entities
        if missing:
            raise DetectorUnavailable(
                f"no PII detector serves {', '.join(sorted(missing))} (AWS Comprehend is not set up)"
            )
        found: list[list[Finding]] = [[] for _ in texts]
        for detector in self._detectors:
            wanted = entities & detector.entities
            if wanted:
                for index, findings in enumerate(detector.detect(texts, wanted)):
                    found[index] += findings
        return [sorted(f) for f in found]


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
