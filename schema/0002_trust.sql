-- airlock registry schema, version 2: trust store, approvals, bundles.

-- Public keys this registry trusts, with their role. Revocation keeps the row.
CREATE TABLE trusted_keys (
    key_id         TEXT PRIMARY KEY CHECK (length(key_id) = 64),
    public_key     BLOB NOT NULL CHECK (length(public_key) = 32),
    name           TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('approver', 'exporter', 'any')),
    added_at       TEXT NOT NULL,
    added_by       TEXT NOT NULL,
    revoked_at     TEXT,
    revoked_by     TEXT,
    revoked_reason TEXT
) STRICT;

-- The exact statement bytes each version's approvals sign.
ALTER TABLE versions ADD COLUMN statement BLOB;
-- The bundle a version arrived in, if any.
ALTER TABLE versions ADD COLUMN bundle_id TEXT;

-- Approvals: signatures over PAE(statement). The public key is kept so an
-- approval can be re-checked; whether it counts is the trust store's call.
CREATE TABLE approvals (
    version_id  INTEGER NOT NULL REFERENCES versions(id),
    key_id      TEXT NOT NULL CHECK (length(key_id) = 64),
    public_key  BLOB NOT NULL CHECK (length(public_key) = 32),
    name        TEXT NOT NULL,
    signature   BLOB NOT NULL CHECK (length(signature) = 64),
    signed_at   TEXT NOT NULL,
    PRIMARY KEY (version_id, key_id)
) STRICT;

-- Bundles accepted from each origin registry (rollback and expiry checks).
CREATE TABLE bundles (
    bundle_id    TEXT PRIMARY KEY,
    origin       TEXT NOT NULL,
    sequence     INTEGER NOT NULL,
    created      TEXT NOT NULL,
    expires      TEXT NOT NULL,
    index_sha256 TEXT NOT NULL,
    exporter     TEXT NOT NULL,
    imported_at  TEXT NOT NULL,
    imported_by  TEXT NOT NULL
) STRICT;

CREATE INDEX bundles_origin ON bundles(origin, sequence);

-- Bundles this registry wrote.
CREATE TABLE exports (
    bundle_id   TEXT PRIMARY KEY,
    sequence    INTEGER NOT NULL UNIQUE,
    created     TEXT NOT NULL,
    expires     TEXT NOT NULL,
    exporter    TEXT NOT NULL,
    path        TEXT NOT NULL,
    exported_by TEXT NOT NULL
) STRICT;
