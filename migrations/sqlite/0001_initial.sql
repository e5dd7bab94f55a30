-- The whole configuration and event model of the spec, so later work adds behaviour, not redesign.
CREATE TABLE keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    revoked_reason TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    setting_ids TEXT NOT NULL DEFAULT '[]',
    cost_limit_micros BIGINT,
    cost_limit_over_time_micros BIGINT,
    cost_limit_unit TEXT,
    rate_limit_over_time BIGINT,
    rate_limit_unit TEXT,
    ttl TEXT NOT NULL DEFAULT '',
    allowed_paths TEXT NOT NULL DEFAULT '[]',
    should_log_request INTEGER NOT NULL DEFAULT 0,
    should_log_response INTEGER NOT NULL DEFAULT 0,
    rotation_enabled INTEGER NOT NULL DEFAULT 0,
    policy_id TEXT NOT NULL DEFAULT '',
    is_key_not_hashed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX keys_updated_at ON keys (updated_at);

CREATE TABLE provider_settings (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    setting TEXT NOT NULL DEFAULT '{}',
    allowed_models TEXT NOT NULL DEFAULT '[]',
    cost_map TEXT
);

CREATE TABLE custom_providers (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    route_configs TEXT NOT NULL DEFAULT '[]',
    authentication_param TEXT NOT NULL DEFAULT ''
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    key_ids TEXT NOT NULL DEFAULT '[]',
    revoked INTEGER NOT NULL DEFAULT 0,
    revoked_reason TEXT NOT NULL DEFAULT '',
    cost_limit_micros BIGINT,
    cost_limit_over_time_micros BIGINT,
    cost_limit_unit TEXT,
    rate_limit_over_time BIGINT,
    rate_limit_unit TEXT,
    ttl TEXT NOT NULL DEFAULT '',
    allowed_paths TEXT NOT NULL DEFAULT '[]',
    allowed_models TEXT NOT NULL DEFAULT '[]',
    UNIQUE (user_id, tags)
);

CREATE TABLE policies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    config TEXT,
    regex_config TEXT
);

CREATE TABLE routes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    steps TEXT NOT NULL DEFAULT '[]',
    key_ids TEXT NOT NULL DEFAULT '[]',
    cache_config TEXT
);

-- One row per proxied request. Bodies (only when a key logs them) live in event_bodies, out of
-- the hot rows that reporting scans.
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    key_id TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    provider TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL DEFAULT '',
    method TEXT NOT NULL DEFAULT '',
    status INTEGER NOT NULL DEFAULT 0,
    cost_micros BIGINT NOT NULL DEFAULT 0,
    prompt_token_count INTEGER NOT NULL DEFAULT 0,
    completion_token_count INTEGER NOT NULL DEFAULT 0,
    latency_in_ms INTEGER NOT NULL DEFAULT 0,
    custom_id TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL DEFAULT '',
    policy_id TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL DEFAULT '',
    route_id TEXT NOT NULL DEFAULT '',
    token_count_source TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    metadata TEXT
);
CREATE INDEX events_created_at ON events (created_at);
CREATE INDEX events_key_created ON events (key_id, created_at);
CREATE INDEX events_user_created ON events (user_id, created_at);
CREATE INDEX events_custom_created ON events (custom_id, created_at);

CREATE TABLE event_bodies (
    event_id TEXT PRIMARY KEY,
    request BLOB,
    response BLOB
);

-- Bumped in the same transaction as every admin change; proxies poll this one row and reload
-- their in-memory snapshot only when it moved.
CREATE TABLE config_version (
    id INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);
