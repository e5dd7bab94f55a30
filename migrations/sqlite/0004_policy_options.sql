-- Two policy fields beyond BricksLLM: redact responses too, and what a detector failure does.
ALTER TABLE policies ADD COLUMN redact_responses BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE policies ADD COLUMN on_detector_failure TEXT NOT NULL DEFAULT 'block';
CREATE INDEX keys_policy_id ON keys (policy_id);
