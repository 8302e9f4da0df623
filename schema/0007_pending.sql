-- Outputs a command writes outside the store (bundles, checkouts,
-- deployments) are announced here before the first byte and removed when
-- they are complete. A row whose process died (its lock file under
-- HOME/pending/ is free) is a leftover: fsck reports it, gc cleans it, and
-- a rerun to the same target replaces or completes it. See
-- docs/operations.md §8.
CREATE TABLE pending_outputs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('export', 'checkout', 'deploy')),
    -- HOME/pending/<token>.lock: created and locked before the row, held
    -- for the run, removed after the row. Free (or gone) = the run died.
    token       TEXT NOT NULL UNIQUE,
    target      TEXT NOT NULL,
    -- JSON array of absolute paths this run has created or is about to
    -- create (temp files, staging folders, finished outputs not yet
    -- committed); removed again if the run does not finish.
    leftovers   TEXT NOT NULL DEFAULT '[]',
    -- JSON object: for a deploy, what to record once the copy is in place.
    details     TEXT NOT NULL DEFAULT '{}',
    pid         INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    started_by  TEXT NOT NULL
);
