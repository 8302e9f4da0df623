-- airlock registry schema, version 1: the local registry core.
-- Applied by src/db/mod.rs inside one transaction; PRAGMA user_version
-- records the number of the last file applied.

CREATE TABLE registry (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- One row per blob the registry knows about. The stat columns describe the
-- stored file when it was last known good; `verify` without --deep trusts a
-- blob whose stat still matches.
CREATE TABLE blobs (
    sha256        TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    size          INTEGER NOT NULL CHECK (size >= 0),
    stored_at     TEXT NOT NULL,
    stat_ino      INTEGER NOT NULL,
    stat_mtime_ns INTEGER NOT NULL,
    stat_ctime_ns INTEGER NOT NULL,
    verified_at   TEXT NOT NULL
) STRICT;

CREATE TABLE models (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE versions (
    id               INTEGER PRIMARY KEY,
    model_id         INTEGER NOT NULL REFERENCES models(id),
    label            TEXT NOT NULL,
    manifest_digest  TEXT NOT NULL CHECK (length(manifest_digest) = 64),
    total_size       INTEGER NOT NULL,
    imported_at      TEXT NOT NULL,
    imported_by      TEXT NOT NULL,
    registry         TEXT NOT NULL,
    origin           TEXT NOT NULL,          -- 'directory' or 'bundle'
    layout           TEXT NOT NULL,          -- plain, hf-cache, hf-snapshot, hf-local-dir, bundle
    source_url       TEXT,
    revision         TEXT,
    license_id       TEXT,
    license_sha256   TEXT REFERENCES blobs(sha256),
    disclosure       TEXT NOT NULL CHECK (disclosure IN ('full', 'partial', 'none', 'unknown')),
    disclosure_notes TEXT,
    owner            TEXT,
    UNIQUE (model_id, label)
) STRICT;

CREATE INDEX versions_manifest ON versions(manifest_digest);

CREATE TABLE files (
    version_id     INTEGER NOT NULL REFERENCES versions(id),
    path           TEXT NOT NULL,
    size           INTEGER NOT NULL CHECK (size >= 0),
    sha256         TEXT NOT NULL REFERENCES blobs(sha256),
    format         TEXT NOT NULL,
    upstream_check TEXT,                     -- what upstream hash was checked, if any
    PRIMARY KEY (version_id, path)
) STRICT;

CREATE INDEX files_sha256 ON files(sha256);
