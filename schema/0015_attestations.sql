-- Fleet attestations (issue 15): keys of serving hosts, and the signed
-- reports of what each host found deployed (`verify --path --attest`),
-- ingested with `audit ingest`.
CREATE TABLE host_keys (
    key_id      TEXT PRIMARY KEY,        -- airlock key id (sha256 of the raw ed25519 key)
    name        TEXT NOT NULL,
    public_key  TEXT NOT NULL,           -- raw ed25519 key, hex
    added_at    TEXT NOT NULL,
    added_by    TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE TABLE attestations (
    id             INTEGER PRIMARY KEY,
    deployment_id  INTEGER NOT NULL REFERENCES deployments(id),
    verified_at    TEXT NOT NULL,
    matches        INTEGER NOT NULL,
    key_id         TEXT NOT NULL,
    report_sha256  TEXT NOT NULL UNIQUE,
    ingested_at    TEXT NOT NULL,
    ingested_by    TEXT NOT NULL,
    envelope       BLOB NOT NULL
);
CREATE INDEX attestations_deployment ON attestations(deployment_id, verified_at);
