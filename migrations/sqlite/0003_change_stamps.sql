-- What each admin write changed, stamped with the config version it bumped to. The bump takes the
-- config_version row lock until commit, so stamps follow commit order: a proxy that has applied
-- every change up to version V reads `seq > V` and misses nothing, deletions included, and loads
-- only the rows that changed. Old rows are pruned; a proxy that fell behind the log reloads all.
CREATE TABLE config_changes (
    seq BIGINT NOT NULL,
    entity TEXT NOT NULL,
    ident TEXT NOT NULL,
    PRIMARY KEY (seq, entity, ident)
);
