-- Indexes that serve every filter of the events and reporting API (GET /api/events, /api/v2/events,
-- /api/reporting/*) on a table of millions of rows; see bench/results/EVENTS-SCALE.md.

-- Time windows: the reporting aggregates read only these columns, so a covering index lets them
-- scan it (index-only) instead of the much wider table. Replaces the plain created_at index.
DROP INDEX IF EXISTS events_created_at;
CREATE INDEX events_created_cover ON events (created_at)
    INCLUDE (cost_micros, latency_in_ms, prompt_token_count, completion_token_count, status);

-- Per key: windows, total spend and top keys read key, time and cost from the index alone.
DROP INDEX IF EXISTS events_key_created;
CREATE INDEX events_key_created ON events (key_id, created_at) INCLUDE (cost_micros);

-- The other filters of /api/v2/events, and its order by cost.
CREATE INDEX events_policy_created ON events (policy_id, created_at);
CREATE INDEX events_status_created ON events (status, created_at);
CREATE INDEX events_cost ON events (cost_micros);
CREATE INDEX events_tags ON events USING GIN (tags jsonb_path_ops);

-- The planner estimates the groups of "GROUP BY (created_at - start) / increment" as the number of
-- distinct created_at values (about one per event), so it sorts millions of rows on disk instead
-- of hashing a few hundred buckets. Time buckets are what this column is grouped by; equality on
-- it is never asked, so state a small distinct count (applied at the next ANALYZE).
ALTER TABLE events ALTER COLUMN created_at SET (n_distinct = 1000);
ANALYZE events;

-- Users: the GET /api/users filters.
CREATE INDEX users_tags ON users USING GIN (tags);
CREATE INDEX users_key_ids ON users USING GIN (key_ids);
