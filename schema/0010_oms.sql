-- OpenSSF model signatures (issue 14): ECDSA keys trusted to sign models
-- (OMS key mode), and which trusted signer's OMS signature a version's
-- files were checked against at import.
CREATE TABLE oms_signers (
    key_id      TEXT PRIMARY KEY,        -- the OMS key hint: sha256 of the SPKI PEM (hex)
    algorithm   TEXT NOT NULL CHECK (algorithm IN ('p256', 'p384')),
    public_pem  TEXT NOT NULL,
    name        TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    added_by    TEXT NOT NULL,
    revoked_at  TEXT,
    revoked_reason TEXT
);
CREATE TABLE oms_verifications (
    id          INTEGER PRIMARY KEY,
    version_id  INTEGER NOT NULL REFERENCES versions(id),
    path        TEXT NOT NULL,           -- the signature file (a model file, or given at import)
    key_id      TEXT,                    -- the trusted signer, NULL when only informative
    signer      TEXT,
    status      TEXT NOT NULL CHECK (status IN ('verified', 'informative')),
    detail      TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX oms_verifications_version ON oms_verifications(version_id);
