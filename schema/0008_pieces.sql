-- Piece digests (issue 16): for a blob larger than one piece, the sha256 of
-- each fixed-size piece, as JSON {"size": N, "sha256": ["<hex>", ...]}.
-- Derived in the same pass as the blob's own sha256 (or, for a bundle,
-- carried in the signed statement and checked against the bytes), so a
-- single large blob can be verified on every core. NULL for blobs of one
-- piece or less, and for blobs stored before schema 8 (whole-file hashing).
ALTER TABLE blobs ADD COLUMN pieces TEXT;
