"""Usage events from the proxy to the database without losing one: a bounded queue, a pool of
consumers writing in batches, a disk journal while the database is down, a drain on shutdown.

Read in order: bus.py (queue, consumers, drain), journal.py (files and who owns them),
replay.py (journal back into the database), codec.py (one event, one line), stats.py.
"""

from app.events.bus import EventBus
from app.events.journal import Journal
from app.events.stats import BusStats

__all__ = ["BusStats", "EventBus", "Journal"]
