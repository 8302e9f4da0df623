-- The registry database says what it is: SQLite's application_id header
-- field holds "ARLK" (0x41524C4B). A database without it (and without
-- airlock's tables) is refused, never written. See docs/architecture.md.
PRAGMA application_id = 1095912523;
