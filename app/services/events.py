"""Reading usage events for the admin API: filtered, ordered event pages, counts and a key's spend."""

from __future__ import annotations

from app.domain.events import Event
from app.domain.money import micros_to_usd
from app.storage.events import OLDEST_FIRST, EventFilter, EventOrder, EventRepository

DEFAULT_LIMIT = 1000


class EventService:
    def __init__(self, events: EventRepository) -> None:
        self._events = events

    def find(
        self,
        selection: EventFilter,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
        order: EventOrder = OLDEST_FIRST,
    ) -> list[Event]:
        """Matching events, oldest first (newest last) unless `order` says otherwise, at most
        `limit` of them."""
        return self._events.find(selection, limit=limit, offset=offset, order=order)

    def count(self, selection: EventFilter) -> int:
        """How many events match, whatever the page."""
        return self._events.count(selection)

    def key_cost_usd(self, key_id: str) -> float:
        """Total cost of every event of the key, in USD."""
        return micros_to_usd(self._events.total_cost_micros(key_id)) or 0.0
