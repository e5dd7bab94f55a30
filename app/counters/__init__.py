"""Rate and spend counters with reservations: the interface (base) and its backends (redis, memory)."""
