-- A version's statement bytes in a table of their own, the blob as the
-- row's last column. SQLite writes a zero-filled blob that ends its row
-- page by page, but expands one followed by other columns in memory: a
-- statement of 100,000 files (23 MB) cost that much twice more at import
-- in `versions.statement`, which is now left NULL.
CREATE TABLE statements (
    version_id  INTEGER PRIMARY KEY REFERENCES versions(id),
    bytes       BLOB NOT NULL
);
INSERT INTO statements (version_id, bytes)
    SELECT id, statement FROM versions WHERE statement IS NOT NULL;
UPDATE versions SET statement = NULL WHERE statement IS NOT NULL;
