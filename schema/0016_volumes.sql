-- Self-verifying volumes (issue 15). On the isolated side: the sets whose
-- volumes are arriving (or have arrived), each volume as it was accepted,
-- and the blobs a set's volumes brought before its versions could be
-- recorded (kept, and safe from gc, until the set completes or expires).
CREATE TABLE volume_sets (
    bundle_id   TEXT PRIMARY KEY,      -- the set's id, the same in every volume
    origin      TEXT NOT NULL,
    sequence    INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    expires     TEXT NOT NULL,
    completed_at TEXT                  -- when its versions were recorded
) STRICT;
CREATE TABLE volume_arrivals (
    bundle_id    TEXT NOT NULL REFERENCES volume_sets(bundle_id),
    number       INTEGER NOT NULL,
    index_sha256 TEXT NOT NULL,
    imported_at  TEXT NOT NULL,
    imported_by  TEXT NOT NULL,
    PRIMARY KEY (bundle_id, number)
) STRICT;
CREATE TABLE volume_blobs (
    bundle_id   TEXT NOT NULL REFERENCES volume_sets(bundle_id),
    sha256      TEXT NOT NULL,
    PRIMARY KEY (bundle_id, sha256)
) STRICT;
-- On the connected side: how an export was split, so `export --volumes N`
-- can write volume N again exactly as planned.
CREATE TABLE export_volumes (
    bundle_id    TEXT PRIMARY KEY REFERENCES exports(bundle_id),
    volume_size  INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    plan_sha256  TEXT NOT NULL,        -- the placement of every blob and part
    versions     TEXT NOT NULL         -- JSON array of name@label, as exported
) STRICT;
