"""Small, real audio files made on the spot for tests: a silent WAV and CBR MP3 frames."""

from __future__ import annotations

import io
import wave

# One MPEG-1 Layer III frame, 128 kbit/s at 44.1 kHz: 417 bytes, 1152 samples (26.1 ms).
MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 413


def wav(seconds: float, rate: int = 16_000) -> bytes:
    """A mono 16-bit WAV file of silence lasting `seconds`."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(rate * seconds))
    return buffer.getvalue()
