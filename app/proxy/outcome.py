"""What happened to one request, as the relay (or a stage that refused it) hands it to accounting."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from app.providers.base import Usage


class Answer(Enum):
    """Which upstream answer the outcome describes: none (refused or failed before one arrived,
    nothing to count), a whole body, or a stream (counted locally when the provider said nothing)."""

    NONE = "none"
    BODY = "body"
    STREAM = "stream"


@dataclass
class Outcome:
    status: int
    error: str = ""
    answer: Answer = Answer.NONE
    usage: Usage | None = None  # as the provider reported it
    model: str = ""  # the model the answer names, when it names one
    # The text relayed, for a local count when the provider reported no usage; None: not read.
    completion_parts: list[str] | None = None
    response_body: bytes | None = None  # a whole body, kept when the key logs responses
