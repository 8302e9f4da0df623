-- Certificate authorities trusted for OpenSSF model signatures in
-- certificate mode (issue 14): a signature's leaf certificate must chain
-- to one of these (through the intermediates the signature carries).
CREATE TABLE oms_cas (
    key_id      TEXT PRIMARY KEY,        -- sha256 of the CA certificate's DER (hex)
    name        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    cert_pem    TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    added_by    TEXT NOT NULL,
    revoked_at  TEXT
);
