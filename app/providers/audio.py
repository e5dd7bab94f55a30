"""How long an uploaded audio file plays, read from its headers, to price a transcription whose
answer does not say (every `response_format` but `verbose_json`).

tinytag reads the container's headers (WAV, MP3, M4A/MP4, OGG/Opus, FLAC, AIFF, WMA) from the
upload without decoding audio: a bounded read, at most ~30 s of MP3 frames when there is no VBR
header. It is asked only on transcription requests (for the reservation under a cost limit, and
for answers that lack a duration), at most once each: `RequestContext.upload_seconds`.
The format is told by the file's magic bytes, not by the name the client gave it.
"""

from __future__ import annotations

import logging
from typing import IO, BinaryIO, cast

from tinytag import TinyTag, TinyTagException

log = logging.getLogger(__name__)


def audio_seconds(upload: IO[bytes]) -> float | None:
    """Seconds of audio in `upload`, or None when its format is unknown (webm...) or it is damaged."""
    try:
        upload.seek(0)
        duration = TinyTag.get(file_obj=cast(BinaryIO, upload), tags=False, duration=True).duration
    except (TinyTagException, OSError, ValueError) as exc:
        log.info("duration of the uploaded audio is unknown (%s); priced 0", exc)
        return None
    return duration if duration is not None and duration > 0 else None
