-- Indexes for the remaining filters and orders of /api/v2/events (the embedded database serves
-- small deployments; PostgreSQL gets covering and GIN indexes in its own 0002).
CREATE INDEX events_policy_created ON events (policy_id, created_at);
CREATE INDEX events_status_created ON events (status, created_at);
CREATE INDEX events_cost ON events (cost_micros);
