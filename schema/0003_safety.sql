-- airlock registry schema, version 3: model-file safety.

-- What inspecting each file found (see src/formats/).
ALTER TABLE files ADD COLUMN verdict TEXT;          -- ok, warning, unsafe, malformed
ALTER TABLE files ADD COLUMN findings TEXT;         -- JSON array of {severity, message}
ALTER TABLE files ADD COLUMN tensors INTEGER;
ALTER TABLE files ADD COLUMN parameters INTEGER;
ALTER TABLE files ADD COLUMN dtypes TEXT;           -- JSON array of strings

-- `--allow-unsafe`: who let an unsafe file in, and why.
CREATE TABLE unsafe_allowances (
    version_id INTEGER NOT NULL REFERENCES versions(id),
    actor      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    at         TEXT NOT NULL,
    files      TEXT NOT NULL                       -- JSON array of the unsafe paths
) STRICT;
