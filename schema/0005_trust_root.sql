-- airlock registry schema, version 5: the signed trust root, key roles as a
-- set, exporters bound to origins, the signed order of versions, and
-- version revocations.

-- The trust root chain, as received: version 1 from the ceremony
-- (`trust init`), every later version signed by a threshold of the previous
-- version's root keys and of its own (`trust update`, or carried in a bundle).
CREATE TABLE trust_roots (
    version    INTEGER PRIMARY KEY CHECK (version >= 1),
    envelope   BLOB NOT NULL,
    applied_at TEXT NOT NULL,
    applied_by TEXT NOT NULL,
    how        TEXT NOT NULL
) STRICT;

-- The keys this registry trusts, rebuilt: a key may hold several roles, an
-- exporter may be bound to the origins it speaks for, and each key says
-- whether the signed root or a local command trusts it.
CREATE TABLE trusted_keys_v5 (
    key_id         TEXT PRIMARY KEY CHECK (length(key_id) = 64),
    public_key     BLOB NOT NULL CHECK (length(public_key) = 32),
    name           TEXT NOT NULL,
    is_root        INTEGER NOT NULL DEFAULT 0 CHECK (is_root IN (0, 1)),
    is_exporter    INTEGER NOT NULL DEFAULT 0 CHECK (is_exporter IN (0, 1)),
    is_approver    INTEGER NOT NULL DEFAULT 0 CHECK (is_approver IN (0, 1)),
    origins        TEXT,                 -- JSON array; NULL: any origin not held by another key
    source         TEXT NOT NULL CHECK (source IN ('local', 'root')),
    added_at       TEXT NOT NULL,
    added_by       TEXT NOT NULL,
    revoked_at     TEXT,
    revoked_by     TEXT,
    revoked_reason TEXT
) STRICT;

INSERT INTO trusted_keys_v5 (key_id, public_key, name, is_exporter, is_approver, source,
    added_at, added_by, revoked_at, revoked_by, revoked_reason)
SELECT key_id, public_key, name, role IN ('exporter', 'any'), role IN ('approver', 'any'), 'local',
    added_at, added_by, revoked_at, revoked_by, revoked_reason
FROM trusted_keys;

DROP TABLE trusted_keys;
ALTER TABLE trusted_keys_v5 RENAME TO trusted_keys;

-- When a version was registered where it was first imported, as its signed
-- statement says: the order of a model's versions (newest wins, downgrades
-- are refused). Versions recorded before this schema take their import time.
ALTER TABLE versions ADD COLUMN registered_at TEXT;
UPDATE versions SET registered_at = imported_at;

-- Signed revocations of versions, by (name, label, manifest digest); a
-- revocation may arrive before the version it revokes. Whether one is in
-- force is decided from its signatures on every use.
CREATE TABLE revocations (
    name            TEXT NOT NULL,
    label           TEXT NOT NULL,
    manifest_digest TEXT NOT NULL CHECK (length(manifest_digest) = 64),
    envelope        BLOB NOT NULL,
    local           INTEGER NOT NULL CHECK (local IN (0, 1)),
    recorded_at     TEXT NOT NULL,
    PRIMARY KEY (name, label, manifest_digest)
) STRICT;
