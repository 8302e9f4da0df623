-- airlock registry schema, version 4: deployments, the event log, checkpoints.

CREATE TABLE deployments (
    id               INTEGER PRIMARY KEY,
    version_id       INTEGER NOT NULL REFERENCES versions(id),
    host             TEXT NOT NULL,
    path             TEXT NOT NULL,
    environment      TEXT,
    note             TEXT,
    record_only      INTEGER NOT NULL CHECK (record_only IN (0, 1)),
    deployed_at      TEXT NOT NULL,
    deployed_by      TEXT NOT NULL,
    ended_at         TEXT,
    ended_by         TEXT,
    last_verified_at TEXT,
    last_status      TEXT
) STRICT;

CREATE INDEX deployments_active ON deployments(host, path) WHERE ended_at IS NULL;

-- The append-only, hash-chained event log (see docs/formats.md, "Event log").
CREATE TABLE events (
    seq       INTEGER PRIMARY KEY,
    time      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    command   TEXT NOT NULL,
    subject   TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),
    hash      TEXT NOT NULL CHECK (length(hash) = 64)
) STRICT;

-- Guard rails, not security: whoever can write the file can drop them; the
-- chain and signed checkpoints are what detect a rewrite.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;

-- Signed heads of the log.
CREATE TABLE checkpoints (
    seq        INTEGER NOT NULL,
    head_hash  TEXT NOT NULL CHECK (length(head_hash) = 64),
    key_id     TEXT NOT NULL,
    public_key BLOB NOT NULL CHECK (length(public_key) = 32),
    signature  BLOB NOT NULL CHECK (length(signature) = 64),
    signed_at  TEXT NOT NULL
) STRICT;
