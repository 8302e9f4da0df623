-- Aliases (issue 15): a name a model's version is known by (`prod`,
-- `candidate`), moved over time. This table is where each alias points
-- now; its history is the log (`alias-set` / `alias-rm` events), which
-- `log --verify` checks this table against.
CREATE TABLE aliases (
    model_id    INTEGER NOT NULL REFERENCES models(id),
    alias       TEXT NOT NULL,
    version_id  INTEGER NOT NULL REFERENCES versions(id),
    set_at      TEXT NOT NULL,
    set_by      TEXT NOT NULL,
    PRIMARY KEY (model_id, alias)
);
