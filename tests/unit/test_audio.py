"""Duration of uploaded audio, read from its headers (tinytag), for pricing transcriptions."""

from __future__ import annotations

import io

import pytest

from app.providers.audio import audio_seconds
from tests.fakes.audio import MP3_FRAME, wav


@pytest.mark.parametrize("seconds", [0.5, 3.0, 61.25])
def test_wav_duration(seconds):
    assert audio_seconds(io.BytesIO(wav(seconds))) == pytest.approx(seconds)


def test_mp3_duration_from_its_frames_whatever_the_read_position():
    upload = io.BytesIO(MP3_FRAME * 1000)
    upload.seek(1234)  # the form parser may leave it anywhere
    assert audio_seconds(upload) == pytest.approx(1000 * 1152 / 44_100, rel=0.01)


@pytest.mark.parametrize("data", [
    b"", b"not audio at all" * 100,
    b"\x1a\x45\xdf\xa3" + b"\x00" * 100,  # webm: not a format tinytag reads
    wav(3.0)[:30],  # a header cut short
])  # fmt: skip
def test_unknown_or_damaged_audio_has_no_duration(data):
    assert audio_seconds(io.BytesIO(data)) is None
