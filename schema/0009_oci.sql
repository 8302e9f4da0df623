-- OCI transfers (issue 13): where a version was pushed to or pulled from —
-- a registry repository, or an OCI image layout on disk — with the model
-- manifest's digest there, so `show` and `audit` can say where a fleet's
-- weights came from. Append-only, like the event log that also records them.
CREATE TABLE oci_locations (
    id              INTEGER PRIMARY KEY,
    version_id      INTEGER NOT NULL REFERENCES versions(id),
    direction       TEXT NOT NULL CHECK (direction IN ('push', 'pull')),
    registry        TEXT NOT NULL,   -- host[:port], or 'oci-layout'
    repository      TEXT NOT NULL,   -- the repository, or the layout's folder
    tag             TEXT,
    manifest_digest TEXT NOT NULL,   -- hex sha256 of the OCI model manifest
    at              TEXT NOT NULL,
    by              TEXT NOT NULL
);
CREATE INDEX oci_locations_version ON oci_locations(version_id);
