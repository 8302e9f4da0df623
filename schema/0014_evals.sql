-- Evaluation and cost records (issue 15): one row per signed result of a
-- suite's metric for a version. The envelope is the signed in-toto
-- statement (predicate urn:airlock:predicate:evaluation:v1) the row was
-- read from; the columns are its fields, for queries.
CREATE TABLE evals (
    id           INTEGER PRIMARY KEY,
    version_id   INTEGER NOT NULL REFERENCES versions(id),
    suite        TEXT NOT NULL,
    metric       TEXT NOT NULL,
    value        REAL NOT NULL,
    higher_is_better INTEGER NOT NULL,
    cost_per_1k_outputs REAL,
    currency     TEXT,
    notes        TEXT,
    recorded_at  TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    envelope_sha256 TEXT NOT NULL UNIQUE,   -- one record per signed statement
    envelope     BLOB NOT NULL
);
CREATE INDEX evals_version ON evals(version_id, suite, metric);
