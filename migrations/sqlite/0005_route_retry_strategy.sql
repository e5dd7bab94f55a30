-- Routes: BricksLLM's route-level retryStrategy and requestFormat (the 0001 table predates them).
ALTER TABLE routes ADD COLUMN retry_strategy TEXT NOT NULL DEFAULT '';
ALTER TABLE routes ADD COLUMN request_format TEXT NOT NULL DEFAULT '';
